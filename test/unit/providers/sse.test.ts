import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { createSseTap, SseParser, type SseEvent } from '../../../src/providers/sse.js';

type Seen = { event: string | undefined; data: string };

const SAMPLE = [
  ': keep-alive comment\n\n',
  'event: message_start\ndata: {"type":"message_start","n":"é€😀"}\n\n',
  'data: line one\ndata: line two\n\n',
  'id: 7\nretry: 100\nevent: ping\ndata:no-space\n\n',
  'event: only-name\n\n',
  'data: {"usage":{"prompt_tokens":3}}\n\n',
  'data: [DONE]\n\n',
].join('');

const EXPECTED: Seen[] = [
  { event: 'message_start', data: '{"type":"message_start","n":"é€😀"}' },
  { event: undefined, data: 'line one\nline two' },
  { event: 'ping', data: 'no-space' },
  { event: undefined, data: '{"usage":{"prompt_tokens":3}}' },
  { event: undefined, data: '[DONE]' },
];

/** Runs bytes through a tap in the given chunks; returns the events seen and the bytes forwarded. */
async function runTap(chunks: Buffer[], drop?: (event: string | undefined, data: string) => boolean) {
  const seen: Seen[] = [];
  const out: Buffer[] = [];
  const tap = createSseTap({ onEvent: (event, data) => seen.push({ event, data }), drop });
  tap.on('data', (chunk: Buffer) => out.push(chunk));
  await pipeline(Readable.from(chunks, { objectMode: false }), tap);
  return { seen, forwarded: Buffer.concat(out).toString('utf8') };
}

function splitAt(bytes: Buffer, ...cuts: number[]): Buffer[] {
  const bounds = [0, ...cuts, bytes.length];
  return bounds.slice(1).map((end, i) => bytes.subarray(bounds[i], end));
}

describe('SseParser', () => {
  it('reports every block with its raw text, and events only for blocks with data', () => {
    const blocks: { raw: string; event: SseEvent | null }[] = [];
    const parser = new SseParser((raw, event) => blocks.push({ raw, event }));
    parser.write(SAMPLE);
    parser.end();
    expect(blocks.map((b) => b.raw).join('')).toBe(SAMPLE);
    expect(blocks.filter((b) => b.event === null)).toHaveLength(2);
    expect(blocks.find((b) => b.event?.event === 'ping')?.event?.id).toBe('7');
  });

  it('treats \\r\\n and lone \\r as line ends, even when a \\r\\n is split across writes', () => {
    const events: (SseEvent | null)[] = [];
    const parser = new SseParser((_raw, event) => events.push(event));
    for (const piece of ['event: a\r', '\ndata: 1\r', '\n\r', '\nevent: b\rdata: 2\r\r', 'data: 3\n\n']) parser.write(piece);
    parser.end();
    expect(events.map((e) => e && [e.event, e.data])).toEqual([['a', '1'], ['b', '2'], [undefined, '3']]);
  });

  it('dispatches a final event that never got its blank line, at end of stream', () => {
    const events: (SseEvent | null)[] = [];
    const parser = new SseParser((_raw, event) => events.push(event));
    parser.write('data: a\n\ndata: {"usage":1}');
    expect(events).toHaveLength(1);
    parser.end();
    expect(events.map((e) => e?.data)).toEqual(['a', '{"usage":1}']);
  });

  it('skips a leading BOM when parsing but keeps it in the raw text', () => {
    const raws: string[] = [];
    const events: (SseEvent | null)[] = [];
    const parser = new SseParser((raw, event) => (raws.push(raw), events.push(event)));
    parser.write('\uFEFFevent: x\ndata: y\n\n');
    expect(events[0]).toMatchObject({ event: 'x', data: 'y' });
    expect(raws[0]?.startsWith('\uFEFF')).toBe(true);
  });

  it('holds only the partial block it has not finished', () => {
    const parser = new SseParser(() => {});
    parser.write('data: done\n\ndata: half');
    expect(parser.pending()).toBe('data: half');
  });
});

describe('createSseTap', () => {
  const bytes = Buffer.from(SAMPLE, 'utf8');

  it('sees the same events and forwards the same bytes wherever one chunk boundary falls', async () => {
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { seen, forwarded } = await runTap(splitAt(bytes, cut));
      expect(seen, `cut at byte ${cut}`).toEqual(EXPECTED);
      expect(forwarded, `cut at byte ${cut}`).toBe(SAMPLE);
    }
  });

  it('does the same with dropping enabled, for every pair of boundaries around the multi-byte text', async () => {
    const start = bytes.indexOf('é');
    for (let a = start - 2; a < start + 12; a++) {
      for (let b = a; b < start + 14; b++) {
        const { seen, forwarded } = await runTap(splitAt(bytes, a, b), () => false);
        expect(seen).toEqual(EXPECTED);
        expect(forwarded).toBe(SAMPLE);
      }
    }
  });

  it('survives one byte per chunk, with \\r\\n line ends', async () => {
    const crlf = SAMPLE.replaceAll('\n', '\r\n');
    const crlfBytes = Buffer.from(crlf, 'utf8');
    const chunks = Array.from(crlfBytes, (_, i) => crlfBytes.subarray(i, i + 1));
    const { seen, forwarded } = await runTap(chunks, () => false);
    expect(seen).toEqual(EXPECTED);
    expect(forwarded).toBe(crlf);
  });

  it('keeps a dropped event from the client but still reports it', async () => {
    for (let cut = 0; cut <= bytes.length; cut += 7) {
      const { seen, forwarded } = await runTap(splitAt(bytes, cut), (_event, data) => data.includes('"usage"'));
      expect(seen).toEqual(EXPECTED);
      expect(forwarded).toBe(SAMPLE.replace('data: {"usage":{"prompt_tokens":3}}\n\n', ''));
    }
  });

  it('forwards each chunk before the source writes the next one', async () => {
    const source = new PassThrough();
    const seen: Seen[] = [];
    const tap = createSseTap({ onEvent: (event, data) => seen.push({ event, data }) });
    source.pipe(tap);
    source.write('data: first\n\ndata: sec');
    const [chunk] = (await once(tap, 'data')) as [Buffer];
    expect(chunk.toString()).toBe('data: first\n\ndata: sec');
    expect(seen).toEqual([{ event: undefined, data: 'first' }]);
    source.end('ond\n\n');
    await once(tap, 'end');
    expect(seen.map((s) => s.data)).toEqual(['first', 'second']);
  });

  it('reports a chunk\'s events before it passes the chunk on, with dropping or without', async () => {
    // Without dropping a chunk goes on whole, after all its events; with it, each block after its own event.
    const cases = [
      { drop: undefined, expected: ['', 'data: 1\n\n', 'data: 1\n\n'] },
      { drop: () => false, expected: ['', 'data: 1\n\n', 'data: 1\n\ndata: 2\n\n'] },
    ];
    for (const { drop, expected } of cases) {
      const out: string[] = [];
      // What had been passed on when each event was reported.
      const forwardedAt: string[] = [];
      const tap = createSseTap({ onEvent: () => forwardedAt.push(out.join('')), drop });
      tap.on('data', (chunk: Buffer) => out.push(chunk.toString()));
      await pipeline(Readable.from([Buffer.from('data: 1\n\n'), Buffer.from('data: 2\n\ndata: [DONE]\n\n')], { objectMode: false }), tap);
      expect(forwardedAt).toEqual(expected);
    }
  });

  it('with dropping, forwards a complete event as soon as its blank line arrives and holds only the partial one', async () => {
    const source = new PassThrough();
    const tap = createSseTap({ onEvent: () => {}, drop: () => false });
    source.pipe(tap);
    source.write('data: first\n\ndata: sec');
    const [chunk] = (await once(tap, 'data')) as [Buffer];
    expect(chunk.toString()).toBe('data: first\n\n');
    source.end('ond\n\n');
    const [rest] = (await once(tap, 'data')) as [Buffer];
    expect(rest.toString()).toBe('data: second\n\n');
  });

  it('errors the stream when the event handler throws', async () => {
    const tap = createSseTap({
      onEvent: () => {
        throw new Error('reader bug');
      },
    });
    await expect(pipeline(Readable.from([Buffer.from('data: x\n\n')]), tap)).rejects.toThrow('reader bug');
  });
});
