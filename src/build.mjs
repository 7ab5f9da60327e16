#!/usr/bin/env node
// Builds dist/ (tsc, then the web pages' bundles) when its sources changed since the last build, or always
// with --force (`npm run build`). `npm start` and `npm ci` run this: a start on unchanged sources pays for
// hashing them (a fraction of a second) instead of a full build (20-30 s on a busy machine).
// Plain JavaScript, because it runs before anything is compiled.
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
const STAMP = path.join(DIST, '.sources.sha256');
/** What the build reads: the sources (this script, the pages' files), the compiler settings, the dependencies. */
const INPUTS = ['src', 'tsconfig.json', 'package-lock.json'];
const ENTRY = path.join(DIST, 'cli/main.js');

function filesOf(entry) {
  const full = path.join(ROOT, entry);
  if (!fs.existsSync(full)) return [];
  if (!fs.statSync(full).isDirectory()) return [entry];
  return fs.readdirSync(full).sort().flatMap((name) => filesOf(path.join(entry, name)));
}

function fingerprint() {
  const hash = crypto.createHash('sha256');
  for (const file of INPUTS.flatMap(filesOf)) hash.update(`${file}\0`).update(fs.readFileSync(path.join(ROOT, file))).update('\0');
  return hash.digest('hex');
}

const force = process.argv.includes('--force');
const sources = fingerprint();
const built = fs.existsSync(ENTRY) && fs.existsSync(STAMP) ? fs.readFileSync(STAMP, 'utf8') : null;
if (!force && built === sources) {
  console.log('dist/ is up to date with src/ (npm run build rebuilds it anyway)');
  process.exit(0);
}
console.log(force ? 'building dist/' : 'src/ changed since the last build: building dist/');
fs.rmSync(STAMP, { force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', path.join(ROOT, 'src')], { stdio: 'inherit' });
execFileSync(process.execPath, [path.join(DIST, 'council/build.js')], { stdio: 'inherit' });
fs.writeFileSync(STAMP, sources);
