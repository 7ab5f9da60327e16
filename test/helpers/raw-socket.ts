import net from 'node:net';

/** An answer read off a raw socket: status 0 when the connection closed before a status line. */
export type SocketResponse = { status: number; headers: Record<string, string>; body: string };

export type SocketRequest = {
  path: string;
  /** Header lines as sent: names and values are written byte for byte (latin1), control characters included. */
  headers: [string, string][];
  body: Buffer;
  /** Sent with Transfer-Encoding: chunked in these sizes (the rest in one last chunk); content-length otherwise. */
  chunks?: number[];
  /** The client goes away after this many bytes of the body, without waiting for an answer. */
  cutAfter?: number;
};

/**
 * One request written byte for byte on a fresh connection, which Node's client would refuse to send (a NUL or
 * DEL in a header value), then the answer read to the connection's end (`connection: close`).
 */
export function socketRequest(base: string, r: SocketRequest): Promise<SocketResponse> {
  const url = new URL(base);
  const framing: [string, string][] = r.chunks ? [['transfer-encoding', 'chunked']] : [['content-length', String(r.body.length)]];
  const lines = [`POST ${r.path} HTTP/1.1`, `host: ${url.host}`, 'connection: close', ...[...r.headers, ...framing].map(([k, v]) => `${k}: ${v}`)];
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  const body = r.chunks ? chunked(r.body, r.chunks) : r.body;
  const wire = Buffer.concat([head, r.cutAfter === undefined ? body : body.subarray(0, Math.min(body.length, r.cutAfter))]);
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    const socket = net.connect({ host: url.hostname, port: Number(url.port) });
    socket.on('data', (c: Buffer) => parts.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(parseResponse(Buffer.concat(parts))));
    socket.write(wire, () => {
      if (r.cutAfter !== undefined) socket.destroy();
    });
  });
}

function chunked(body: Buffer, sizes: number[]): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (const size of [...sizes, body.length]) {
    const piece = body.subarray(at, at + Math.max(1, size));
    if (piece.length === 0) break;
    out.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
    at += piece.length;
  }
  out.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(out);
}

function parseResponse(buf: Buffer): SocketResponse {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return { status: 0, headers: {}, body: '' };
  const [statusLine = '', ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = buf.subarray(end + 4);
  const body = headers['transfer-encoding'] === 'chunked' ? dechunk(rest) : rest;
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, body: body.toString('utf8') };
}

/** The chunks' data, as far as it arrived (an answer cut mid-stream gives what came). */
function dechunk(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
    if (!(size > 0)) break;
    out.push(buf.subarray(eol + 2, Math.min(buf.length, eol + 2 + size)));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}
