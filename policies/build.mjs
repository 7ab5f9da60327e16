#!/usr/bin/env node
// Builds policies/bundle.tar.gz from the Rego in policies/tollgate (tests and fixtures left out).
//   node policies/build.mjs           build and write the bundle
//   node policies/build.mjs --check   rebuild into a temp dir and exit 1 if the committed bundle is stale
// The revision is a short sha256 of the shipped sources, so any machine rebuilding them gets the same one.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { Buffer } from 'node:buffer';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';

const POLICIES = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(POLICIES, 'tollgate');
const BUNDLE = join(POLICIES, 'bundle.tar.gz');
const ENTRYPOINT = 'tollgate/decision';
const OPA = process.env.OPA ?? 'opa';
const OPA_VERSION = '1.22.3';
const INSTALL_HINT = `install it with: go install github.com/open-policy-agent/opa@v${OPA_VERSION} ` +
  `(or download the v${OPA_VERSION} binary from https://github.com/open-policy-agent/opa/releases), ` +
  'or point the OPA environment variable at it';

function fail(message) {
  console.error(`policies/build.mjs: ${message}`);
  process.exit(1);
}

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? walk(path) : [path];
  });
}

/** The files that ship: Rego that is not a test, and data outside fixtures/. Paths use '/' and are sorted. */
function shippedSources(root = SOURCE) {
  return walk(root)
    .map((path) => relative(root, path).split(sep).join('/'))
    .filter((rel) => !rel.startsWith('fixtures/'))
    .filter((rel) => (rel.endsWith('.rego') && !rel.endsWith('_test.rego')) || /\.(json|ya?ml)$/.test(rel))
    .sort();
}

function revisionOf(root, files) {
  const hash = createHash('sha256');
  for (const rel of files) {
    const bytes = readFileSync(join(root, rel));
    hash.update(`${rel}\0${bytes.length}\0`).update(bytes);
  }
  return hash.digest('hex').slice(0, 12);
}

function opaVersion() {
  const result = spawnSync(OPA, ['version'], { encoding: 'utf8' });
  if (result.error?.code === 'ENOENT') fail(`the opa CLI was not found on PATH; ${INSTALL_HINT}`);
  if (result.status !== 0) fail(`\`${OPA} version\` failed: ${result.stderr || result.error}`);
  return /^Version: (\S+)/m.exec(result.stdout)?.[1] ?? 'unknown';
}

/** Stages the shipped files in a temp dir and builds there, so the bundle's paths never name this machine. */
function build(outFile) {
  const version = opaVersion();
  const files = shippedSources();
  const revision = revisionOf(SOURCE, files);
  const stage = mkdtempSync(join(tmpdir(), 'tollgate-policy-'));
  try {
    for (const rel of files) {
      mkdirSync(dirname(join(stage, rel)), { recursive: true });
      copyFileSync(join(SOURCE, rel), join(stage, rel));
    }
    const args = ['build', '-t', 'wasm', '-e', ENTRYPOINT, '--revision', revision, '-o', outFile, '.'];
    const result = spawnSync(OPA, args, { cwd: stage, encoding: 'utf8' });
    if (result.status !== 0) fail(`opa ${args.join(' ')} failed:\n${result.stderr || result.stdout}`);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  return { revision, version, files };
}

async function entriesOf(file) {
  const entries = new Map();
  const extract = tar.extract();
  Readable.from([gunzipSync(readFileSync(file))]).pipe(extract);
  for await (const entry of extract) {
    const chunks = [];
    for await (const chunk of entry) chunks.push(chunk);
    entries.set(entry.header.name.replace(/^\.?\//, ''), Buffer.concat(chunks));
  }
  return entries;
}

async function staleEntries(fresh, committed) {
  const [want, have] = [await entriesOf(fresh), await entriesOf(committed)];
  const names = [...new Set([...want.keys(), ...have.keys()])].sort();
  return names.filter((name) => {
    const [a, b] = [want.get(name), have.get(name)];
    return !a || !b || !a.equals(b);
  });
}

async function check() {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bundle-'));
  try {
    const fresh = join(dir, 'bundle.tar.gz');
    const { revision, version } = build(fresh);
    let stale;
    try {
      stale = await staleEntries(fresh, BUNDLE);
    } catch (error) {
      fail(`cannot read the committed ${relative(process.cwd(), BUNDLE)}: ${error.message}; run: node policies/build.mjs`);
    }
    if (stale.length > 0) {
      const hint = version === OPA_VERSION ? '' : ` (built with opa ${version}; the bundle is pinned to opa ${OPA_VERSION})`;
      fail(`the committed bundle is stale: ${stale.join(', ')} ${stale.length === 1 ? 'differs' : 'differ'} from a fresh build at revision ${revision}${hint}. ` +
        'Run: node policies/build.mjs, and commit policies/bundle.tar.gz');
    }
    console.log(`policies/bundle.tar.gz is up to date (revision ${revision})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--check')) {
  await check();
} else {
  const { revision, version, files } = build(BUNDLE);
  if (version !== OPA_VERSION) console.warn(`warning: built with opa ${version}; CI checks against opa ${OPA_VERSION}`);
  console.log(`wrote ${relative(process.cwd(), BUNDLE)} (revision ${revision}, ${files.length} files: ${files.join(', ')})`);
}
