import { Transform, type TransformCallback } from 'node:stream';
import { EventStreamCodec, type Message } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';

/**
 * AWS event streams (content-type application/vnd.amazon.eventstream,
 * https://docs.aws.amazon.com/transcribe/latest/dg/streaming-setting-up.html#streaming-event-stream): binary frames,
 * each with headers (`:message-type` event or exception, `:event-type`, `:exception-type`) and a payload. The codec
 * is the AWS SDK's own (@smithy/eventstream-codec), which checks each frame's CRCs.
 */
export type EventStreamTapOptions = {
  /** Each event frame, in order: its :event-type and its payload as text (the signature of StreamUsageReader.push). */
  onEvent: (eventType: string | undefined, payload: string) => void;
  /** An exception frame (a stream that failed midway): its :exception-type and payload. */
  onException: (exceptionType: string | undefined, payload: string) => void;
};

/** A pass-through Transform over an event stream that reports every frame: bytes go on untouched, as they come. */
export function createEventStreamTap({ onEvent, onException }: EventStreamTapOptions): Transform {
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  const report = (message: Message) => {
    const kind = header(message, ':message-type');
    const payload = toUtf8(message.body);
    if (kind === 'exception' || kind === 'error') onException(header(message, ':exception-type') ?? header(message, ':error-code'), payload);
    else onEvent(header(message, ':event-type'), payload);
  };
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      this.push(chunk);
      try {
        codec.feed(chunk);
        for (const message of codec.getAvailableMessages().getMessages()) report(message);
      } catch (err) {
        return callback(err instanceof Error ? err : new Error(String(err)));
      }
      callback();
    },
  });
}

function header(message: Message, name: string): string | undefined {
  const value = message.headers[name];
  return value?.type === 'string' ? value.value : undefined;
}
