import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The council page's files. `npm run build` bundles them into dist/council/web/ (beside the compiled
 * plugin); run from src/ (tests, tsx) there is no such folder, so the page is bundled from src/council/page/ on
 * first request and kept in memory. Either way the browser gets one script with sigma and graphology in it.
 */

export type Asset = { type: string; body: Buffer; etag: string };
export type CouncilAssets = ReadonlyMap<string, Asset>;

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Where `npm run build` writes the page, next to this module in dist/. */
export const BUILT_DIR = path.join(HERE, 'web');
/** The page's sources (browser TypeScript, its own tsconfig): src/council/page/, found from src/council/ and dist/council/ alike. */
export const SOURCE_DIR = path.resolve(HERE, '../../src/council/page');

export const ASSET_TYPES: Readonly<Record<string, string>> = Object.freeze({
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
});
/** Copied as they are; app.js is bundled from app.ts. */
export const STATIC_FILES = Object.keys(ASSET_TYPES).filter((name) => name !== 'app.js');

export async function loadCouncilAssets(): Promise<CouncilAssets> {
  const built = fs.existsSync(path.join(BUILT_DIR, 'app.js'));
  const files = new Map<string, Buffer>();
  for (const name of STATIC_FILES) files.set(name, fs.readFileSync(path.join(built ? BUILT_DIR : SOURCE_DIR, name)));
  files.set('app.js', built ? fs.readFileSync(path.join(BUILT_DIR, 'app.js')) : Buffer.from(await bundleApp()));
  return new Map([...files].map(([name, body]) => [name, asset(name, body)]));
}

/** Bundles src/council/page/app.ts and what it imports (sigma, graphology) into one browser script. */
export async function bundleApp(): Promise<string> {
  // esbuild comes with the dev tools (tsx, vite); a production install serves the prebuilt bundle instead.
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [path.join(SOURCE_DIR, 'app.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: ['chrome111', 'firefox115', 'safari16'],
    minify: true,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

/** Writes the page into `dir` (default: dist/council/web/); `npm run build` calls this through build.ts. */
export async function writeCouncilAssets(dir = BUILT_DIR): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  for (const name of STATIC_FILES) fs.copyFileSync(path.join(SOURCE_DIR, name), path.join(dir, name));
  fs.writeFileSync(path.join(dir, 'app.js'), await bundleApp());
}

function asset(name: string, body: Buffer): Asset {
  const etag = `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
  return { type: ASSET_TYPES[name]!, body, etag };
}
