import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/** What came back from a raw request: the status (0 when the connection closed without one), headers and body. */
export type RawResponse = { status: number; headers: http.IncomingHttpHeaders; body: string; json(): unknown };

export type RawRequest = {
  path: string;
  /** Header lines exactly as sent, duplicates included, in order. */
  headers: [string, string][];
  /** Sent with content-length, unless `chunks` is given. */
  body?: string | Buffer;
  /** Sent with Transfer-Encoding: chunked, one write per chunk, `delayMs` apart. */
  chunks?: (string | Buffer)[];
  delayMs?: number;
  /** The local address to send from (any 127.x.y.z works on loopback): another source for per-address limits. */
  localAddress?: string;
};

/**
 * One HTTP/1.1 request as an SDK would never send it: repeated header lines, raw bytes in header values (give a
 * string whose characters are the bytes, e.g. Buffer.from('é').toString('latin1')), chunked or trickled bodies.
 */
export function rawRequest(base: string, r: RawRequest): Promise<RawResponse> {
  const url = new URL(r.path, base);
  // Headers given as a raw list get none of Node's defaults, Host included (which the server requires).
  const flat = ['host', url.host, ...r.headers.flat()];
  if (r.chunks === undefined) flat.push('content-length', String(Buffer.byteLength(r.body ?? '')));
  else flat.push('transfer-encoding', 'chunked');
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: flat, localAddress: r.localAddress, agent: false });
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      const done = () => {
        const body = Buffer.concat(parts).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
      };
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', done);
      // An answer cut mid-body resolves with what came.
      res.on('error', done);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') resolve({ status: 0, headers: {}, body: '', json: () => undefined });
      else reject(err);
    });
    void (async () => {
      if (r.chunks === undefined) return req.end(r.body);
      for (const chunk of r.chunks) {
        if (req.destroyed) return;
        req.write(chunk);
        if (r.delayMs) await sleep(r.delayMs);
      }
      req.end();
    })();
  });
}

/** Bytes as a header value Node's client writes unchanged (it writes each character ≤ U+00FF as one byte). */
export function rawBytes(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}
