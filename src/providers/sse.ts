import { Transform, type TransformCallback } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

/** One dispatched server-sent event (https://html.spec.whatwg.org/multipage/server-sent-events.html). */
export type SseEvent = { event: string | undefined; data: string; id: string | undefined };

/**
 * Receives each complete block of the stream: its raw text (terminating blank line included) and the
 * event it dispatches, or null for a block that dispatches nothing (comments only, no data).
 */
export type SseBlockHandler = (raw: string, event: SseEvent | null) => void;

// Line ends are \r\n, \n or a lone \r; the regex engine does the scanning so JS never loops per byte.
const LINE_END = /\r\n|\r|\n/g;
const COLON = 0x3a;
const SPACE = 0x20;

/** Incremental SSE parser over text: feed it any slicing of the stream, it reports whole blocks. */
export class SseParser {
  /** Text of the block in progress; `scanFrom` is where its first unread line starts. */
  private buffer = '';
  private scanFrom = 0;
  private started = false;
  private eventName: string | undefined = undefined;
  private lastId: string | undefined = undefined;
  private dataLines: string[] = [];
  // Per instance: a block handler may feed another parser, which must not move this one's lastIndex.
  private readonly lineEnd = new RegExp(LINE_END);

  constructor(private readonly onBlock: SseBlockHandler) {}

  write(text: string): void {
    if (text.length === 0) return;
    if (!this.started) {
      this.started = true;
      // The spec removes one leading BOM before parsing; it stays in the raw text we forward.
      if (text.charCodeAt(0) === 0xfeff) this.scanFrom = 1;
    }
    this.buffer += text;
    this.scan(false);
  }

  /**
   * End of stream. A last event that never got its blank line is still dispatched: the provider
   * produced (and bills) it, so metering must see it even though strict clients would drop it.
   */
  end(): void {
    this.scan(true);
    if (this.scanFrom < this.buffer.length) this.takeField(this.buffer.slice(this.scanFrom));
    const rest = this.buffer;
    this.buffer = '';
    this.scanFrom = 0;
    if (rest.length > 0) this.emitBlock(rest);
  }

  /** Text received but not yet part of a complete block. */
  pending(): string {
    return this.buffer;
  }

  private scan(atEnd: boolean): void {
    const buffer = this.buffer;
    let blockStart = 0;
    let match: RegExpExecArray | null;
    this.lineEnd.lastIndex = this.scanFrom;
    while ((match = this.lineEnd.exec(buffer)) !== null) {
      const next = match.index + match[0].length;
      // A \r at the very end may be the first half of \r\n: wait for the next chunk to know.
      if (!atEnd && next === buffer.length && match[0] === '\r') break;
      const isBlank = match.index === this.scanFrom;
      if (!isBlank) this.takeField(buffer.slice(this.scanFrom, match.index));
      this.scanFrom = next;
      if (isBlank) {
        this.emitBlock(buffer.slice(blockStart, next));
        blockStart = next;
      }
    }
    if (blockStart > 0) {
      this.buffer = buffer.slice(blockStart);
      this.scanFrom -= blockStart;
    }
  }

  private emitBlock(raw: string): void {
    const event: SseEvent | null =
      this.dataLines.length > 0 ? { event: this.eventName, data: this.dataLines.join('\n'), id: this.lastId } : null;
    this.eventName = undefined;
    this.dataLines = [];
    this.onBlock(raw, event);
  }

  private takeField(line: string): void {
    if (line.charCodeAt(0) === COLON) return;
    const colon = line.indexOf(':');
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === SPACE) value = value.slice(1);
    if (name === 'data') this.dataLines.push(value);
    else if (name === 'event') this.eventName = value;
    else if (name === 'id' && !value.includes('\0')) this.lastId = value;
  }
}

export type SseTapOptions = {
  /** Called once per dispatched event, in stream order (the signature of StreamUsageReader.push). */
  onEvent: (event: string | undefined, data: string) => void;
  /**
   * Events for which this returns true never reach the client. Giving it switches the tap from
   * forwarding each chunk as it arrives to forwarding each block as soon as its blank line arrives.
   */
  drop?: (event: string | undefined, data: string) => boolean;
};

/**
 * A pass-through Transform over an SSE byte stream that reports every event on the way, each before the bytes
 * that complete it are passed on. Without `drop` it forwards each chunk untouched the moment it arrives (once its
 * events are reported); with `drop` it holds back at most one partial block.
 */
export function createSseTap({ onEvent, drop }: SseTapOptions): Transform {
  const decoder = new StringDecoder('utf8');
  const transform = new Transform({
    // decodeStrings (the default) hands us Buffers even when a string was written.
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      // Its events are reported before the chunk goes on: a listener acts before the client can have them.
      settle(callback, () => {
        parser.write(decoder.write(chunk));
        if (drop === undefined) this.push(chunk);
      });
    },
    flush(callback: TransformCallback) {
      settle(callback, () => {
        parser.write(decoder.end());
        parser.end();
      });
    },
  });
  const parser = new SseParser((raw, event) => {
    if (event !== null) onEvent(event.event, event.data);
    if (drop !== undefined && (event === null || !drop(event.event, event.data))) transform.push(raw, 'utf8');
  });
  return transform;
}

function settle(callback: TransformCallback, work: () => void): void {
  try {
    work();
  } catch (err) {
    return callback(err instanceof Error ? err : new Error(String(err)));
  }
  callback();
}
