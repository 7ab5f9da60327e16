import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import { EventStreamCodec, type Message } from '@smithy/eventstream-codec';
import { getChunkedStream } from '@smithy/core/event-streams';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';

/**
 * AWS event streams (content-type application/vnd.amazon.eventstream,
 * https://docs.aws.amazon.com/transcribe/latest/dg/streaming-setting-up.html#streaming-event-stream): binary frames,
 * each with headers (`:message-type` event or exception, `:event-type`, `:exception-type`) and a payload. The AWS
 * SDK's own code cuts the bytes into frames (getChunkedStream) and decodes them, checking their CRCs (EventStreamCodec).
 */
export type EventStreamTapOptions = {
  /** Each event frame, in order: its :event-type and its payload as text (the signature of StreamUsageReader.push). */
  onEvent: (eventType: string | undefined, payload: string) => void;
  /** An exception frame (a stream that failed midway): its :exception-type and payload. */
  onException: (exceptionType: string | undefined, payload: string) => void;
};

/**
 * A pass-through Transform over an event stream that reports every frame: bytes go on untouched, as they come. It
 * ends once every frame was reported; a frame that does not decode fails it.
 */
export function createEventStreamTap({ onEvent, onException }: EventStreamTapOptions): Transform {
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  const frames = new PassThrough();
  let failure: Error | undefined;
  const reading = (async () => {
    for await (const frame of getChunkedStream(frames)) report(codec.decode(frame), onEvent, onException);
  })().catch((err: unknown) => {
    failure = err instanceof Error ? err : new Error(String(err));
  });
  const tap = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      if (failure !== undefined) return callback(failure);
      this.push(chunk);
      frames.write(chunk);
      callback();
    },
    flush(callback: TransformCallback) {
      frames.end();
      void reading.then(() => callback(failure));
    },
  });
  tap.once('close', () => frames.destroy());
  return tap;
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
