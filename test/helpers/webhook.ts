import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Received = { path: string; headers: http.IncomingHttpHeaders; body: unknown };
/** What the receiver answers a request with: a status, or 'hang' to never answer. */
export type Reply = number | 'hang';

export type WebhookReceiver = {
  url: string;
  received: Received[];
  /** Replies for a path, used in order; the last one repeats. Unset paths answer 200. */
  reply(path: string, ...replies: Reply[]): void;
  /** Delay before every answer, to make deliveries overlap. */
  delayMs: number;
  on(path: string): Received[];
  close(): Promise<void>;
};

/** A local webhook target on 127.0.0.1:0 that records every POST it gets. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const scripts = new Map<string, Reply[]>();
  const received: Received[] = [];
  const receiver: WebhookReceiver = {
    url: '',
    received,
    delayMs: 0,
    reply: (path, ...replies) => void scripts.set(path, replies),
    on: (path) => received.filter((r) => r.path === path),
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') });
      const script = scripts.get(path) ?? [];
      const reply = (script.length > 1 ? script.shift() : script[0]) ?? 200;
      if (reply === 'hang') return;
      setTimeout(() => res.writeHead(reply, { 'content-type': 'text/plain' }).end(reply >= 300 ? 'receiver says no' : 'ok'), receiver.delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}
