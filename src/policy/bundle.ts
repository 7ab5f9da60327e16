import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';

/** What tollgate needs from an `opa build -t wasm` bundle. */
export type PolicyBundle = { wasm: Buffer; data: unknown; revision: string };

const WASM = 'policy.wasm';
const DATA = 'data.json';
const MANIFEST = '.manifest';

/** Reads a bundle .tar.gz; throws an Error naming the file and what is wrong with it. */
export async function readBundle(path: string): Promise<PolicyBundle> {
  const bytes = await readFile(path).catch((cause: unknown) => {
    throw new Error(`policy bundle ${path} cannot be read: ${messageOf(cause)}`, { cause });
  });
  return parseBundle(bytes, path);
}

export async function parseBundle(gzipped: Buffer, source = 'policy bundle'): Promise<PolicyBundle> {
  const files = await untar(gunzip(gzipped, source), source);
  const wasm = required(files, WASM, source);
  return {
    wasm,
    data: parseJson(required(files, DATA, source), DATA, source),
    revision: revisionOf(parseJson(required(files, MANIFEST, source), MANIFEST, source), source),
  };
}

function gunzip(bytes: Buffer, source: string): Buffer {
  try {
    return gunzipSync(bytes);
  } catch (cause) {
    throw new Error(`${source} is not a valid .tar.gz: ${messageOf(cause)}`, { cause });
  }
}

async function untar(bytes: Buffer, source: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const extract = tar.extract();
  Readable.from([bytes]).pipe(extract);
  try {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry as AsyncIterable<Buffer>) chunks.push(chunk);
      // opa writes entries as /policy.wasm; other tools write ./policy.wasm or policy.wasm.
      if (entry.header.type === 'file') files.set(entry.header.name.replace(/^\.?\//, ''), Buffer.concat(chunks));
    }
  } catch (cause) {
    throw new Error(`${source} is not a valid tar archive: ${messageOf(cause)}`, { cause });
  }
  return files;
}

function required(files: Map<string, Buffer>, name: string, source: string): Buffer {
  const bytes = files.get(name);
  if (!bytes || bytes.length === 0) throw new Error(`${source} is incomplete: it has no ${name}`);
  return bytes;
}

function parseJson(bytes: Buffer, name: string, source: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (cause) {
    throw new Error(`${source} has an invalid ${name}: ${messageOf(cause)}`, { cause });
  }
}

function revisionOf(manifest: unknown, source: string): string {
  const revision = (manifest as { revision?: unknown } | null)?.revision;
  if (typeof revision !== 'string' || revision === '') throw new Error(`${source} has no revision in its ${MANIFEST}`);
  return revision;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
