import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { PolicyEngine } from '../../../src/policy/engine.js';
import type { Evaluation, PolicyInput } from '../../../src/policy/types.js';

export const ROOT = new URL('../../../', import.meta.url).pathname;
export const BUNDLE = `${ROOT}policies/bundle.tar.gz`;
export const POLICY_DIR = `${ROOT}policies/tollgate`;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export type FixtureCase = {
  name: string;
  malformed?: boolean;
  /** Deep-merged into the bundle's data.config for this case only (e.g. a fail mode). */
  data?: JsonObject;
  patch?: JsonObject;
  unset?: string[];
  expect: Record<string, Json>;
};
export type Fixtures = { base: JsonObject; cases: FixtureCase[] };

export const fixtures = JSON.parse(readFileSync(`${POLICY_DIR}/fixtures/cases.json`, 'utf8')) as Fixtures;

/** The same construction as decision_test.rego: object.union(base, patch), then json.remove(unset paths). */
export function fixtureInput(c: FixtureCase): PolicyInput {
  const merged = union(fixtures.base, c.patch ?? {}) as JsonObject;
  for (const path of c.unset ?? []) remove(merged, path.split('/'));
  return merged as unknown as PolicyInput;
}

export type FixtureEngines = { evaluate(c: FixtureCase): Evaluation; close(): Promise<void> };

/**
 * The committed bundle, plus one variant of it per distinct `data` a case carries (its data.config deep-merged
 * with that data), each loaded through PolicyEngine as the gateway loads a bundle.
 */
export async function openFixtureEngines(): Promise<FixtureEngines> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-fixtures-'));
  const engines = new Map<string, PolicyEngine>([['', await PolicyEngine.fromFile(BUNDLE)]]);
  const keyOf = (c: FixtureCase) => (c.data ? JSON.stringify(c.data) : '');
  for (const c of fixtures.cases) {
    const key = keyOf(c);
    if (engines.has(key)) continue;
    const path = join(dir, `variant-${engines.size}.tar.gz`);
    writeFileSync(path, await variant(`fixture-data-${engines.size}`, (data) => {
      data.config = union(data.config as Json, c.data!);
    }));
    engines.set(key, await PolicyEngine.fromFile(path));
  }
  return {
    evaluate: (c) => engines.get(keyOf(c))!.evaluate(fixtureInput(c)),
    async close() {
      await Promise.all([...engines.values()].map((e) => e.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function union(a: Json, b: Json): Json {
  if (!isObject(a) || !isObject(b)) return structuredClone(b);
  const out: JsonObject = structuredClone(a);
  for (const [key, value] of Object.entries(b)) out[key] = key in out ? union(out[key] as Json, value) : structuredClone(value);
  return out;
}

function remove(target: JsonObject, [head, ...rest]: string[]): void {
  if (head === undefined) return;
  if (rest.length === 0) delete target[head];
  else if (isObject(target[head])) remove(target[head], rest);
}

/** The bundle's files by name (leading '/' dropped). */
export async function unpack(gzipped: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const extract = tar.extract();
  Readable.from([gunzipSync(gzipped)]).pipe(extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry as AsyncIterable<Buffer>) chunks.push(chunk);
    files.set(entry.header.name.replace(/^\//, ''), Buffer.concat(chunks));
  }
  return files;
}

/** Packs files the way opa does (names prefixed with '/'), or with another prefix. */
export async function pack(files: Map<string, Buffer>, prefix = '/'): Promise<Buffer> {
  const packer = tar.pack();
  for (const [name, bytes] of files) packer.entry({ name: `${prefix}${name}` }, bytes);
  packer.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of packer as AsyncIterable<Buffer>) chunks.push(chunk);
  return gzipSync(Buffer.concat(chunks));
}

/** The committed bundle re-packed under another revision, with its data.json changed by `edit`. */
export async function variant(revision: string, edit: (data: JsonObject) => void = () => {}): Promise<Buffer> {
  const files = await unpack(readFileSync(BUNDLE));
  const manifest = JSON.parse(files.get('.manifest')!.toString()) as JsonObject;
  const data = JSON.parse(files.get('data.json')!.toString()) as JsonObject;
  edit(data);
  files.set('.manifest', Buffer.from(JSON.stringify({ ...manifest, revision })));
  files.set('data.json', Buffer.from(JSON.stringify(data)));
  return pack(files);
}

/** A log that records what it was told, pino-style. */
export function recordingLog() {
  const lines: { level: string; obj: object; msg: string }[] = [];
  const at = (level: string) => (obj: object, msg: string) => void lines.push({ level, obj, msg });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}
