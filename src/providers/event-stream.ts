import { Transform, type TransformCallback } from 'node:stream';
import { EventStreamCodec, type Message } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';

/**
 * AWS event streams (content-type application/vnd.amazon.eventstream,
 * https://docs.aws.amazon.com/transcribe/latest/dg/streaming-setting-up.html#streaming-event-stream): binary frames,
 * each with headers (`:message-type` event or exception, `:event-type`, `:exception-type`) and a payload. Each frame
 * starts with its total length (4 bytes, big-endian); the AWS SDK's own codec decodes it and checks its CRCs
 * (EventStreamCodec).
 */
export type EventStreamTapOptions = {
  /** Each event frame, in order: its :event-type and its payload as text (the signature of StreamUsageReader.push). */
  onEvent: (eventType: string | undefined, payload: string) => void;
  /** An exception frame (a stream that failed midway): its :exception-type and payload. */
  onException: (exceptionType: string | undefined, payload: string) => void;
};

// A frame's prelude (total length, headers length, prelude CRC) and its closing CRC: the least a frame can be.
const FRAME_OVERHEAD = 16;
// The largest message AWS's event-stream libraries accept (aws-c-event-stream's AWS_EVENT_STREAM_MAX_MESSAGE_SIZE): a
// length beyond it is refused before any memory is set aside for it.
const MAX_FRAME_BYTES = 16 * 1024 * 1024;

/**
 * A pass-through Transform over an event stream that reports every frame: bytes go on untouched, as they come, but a
 * chunk goes on only once every frame it completes was reported (so a reader hears a stream's last event before its
 * client can). A frame that does not decode, or claims a length no frame has, fails it; so does a stream that ends
 * inside a frame.
 */
export function createEventStreamTap({ onEvent, onException }: EventStreamTapOptions): Transform {
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  const frames = new FrameSplitter();
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      try {
        for (const frame of frames.push(chunk)) report(codec.decode(frame), onEvent, onException);
      } catch (err) {
        return callback(err instanceof Error ? err : new Error(String(err)));
      }
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      const left = frames.pending;
      callback(left === 0 ? null : new Error(`Truncated event message received: the stream ended ${left} bytes into a frame.`));
    },
  });
}

/** Cuts bytes into whole frames by the length each frame starts with. */
class FrameSplitter {
  #chunks: Buffer[] = [];
  #buffered = 0;

  get pending(): number {
    return this.#buffered;
  }

  push(chunk: Buffer): Buffer[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const frames: Buffer[] = [];
    while (this.#buffered >= 4) {
      const head = this.#chunks[0]!.length >= 4 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
      const length = head.readUInt32BE(0);
      if (length < FRAME_OVERHEAD || length > MAX_FRAME_BYTES) {
        throw new Error(`Invalid event message: a frame claims ${length} bytes (a frame has ${FRAME_OVERHEAD} to ${MAX_FRAME_BYTES}).`);
      }
      if (this.#buffered < length) break;
      const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
      frames.push(all.subarray(0, length));
      const rest = all.subarray(length);
      this.#chunks = rest.length > 0 ? [rest] : [];
      this.#buffered = rest.length;
    }
    return frames;
  }
}

function report(message: Message, onEvent: EventStreamTapOptions['onEvent'], onException: EventStreamTapOptions['onException']): void {
  const kind = header(message, ':message-type');
  const payload = toUtf8(message.body);
  if (kind === 'exception' || kind === 'error') onException(header(message, ':exception-type') ?? header(message, ':error-code'), payload);
  else onEvent(header(message, ':event-type'), payload);
}

function header(message: Message, name: string): string | undefined {
  const value = message.headers[name];
  return value?.type === 'string' ? value.value : undefined;
}
