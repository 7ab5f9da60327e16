import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The web pages' files (the council's /council, finance's /finance). `npm run build` bundles each into
 * dist/<page>/web/ (beside the compiled plugin); run from src/ (tests, tsx) there is no such folder, so a page
 * is bundled from src/<page>/page/ on first request and kept in memory. Either way the browser gets one
 * script per page, with what it imports (sigma and graphology for the council's) in it.
 */

export type Asset = { type: string; body: Buffer; etag: string };
export type CouncilAssets = ReadonlyMap<string, Asset>;

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** A page: where its sources are (found from src/ and dist/ alike), where the build puts it, what is copied as is. */
export type PageSpec = { sourceDir: string; builtDir: string; staticFiles: readonly string[] };

const pageSpec = (name: string, staticFiles: readonly string[]): PageSpec => ({
  sourceDir: path.resolve(HERE, `../../src/${name}/page`), builtDir: path.resolve(HERE, `../${name}/web`), staticFiles,
});

export const ASSET_TYPES: Readonly<Record<string, string>> = Object.freeze({
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
});
/** Copied as they are; app.js is bundled from app.ts. */
export const STATIC_FILES = Object.keys(ASSET_TYPES).filter((name) => name !== 'app.js');

export const COUNCIL_PAGE = pageSpec('council', STATIC_FILES);
/** The finance page uses the council's stylesheet and icon (served at /council/) beside its own style.css. */
export const FINANCE_PAGE = pageSpec('finance', ['index.html', 'style.css']);
/** Where `npm run build` writes the council page, next to this module in dist/. */
export const BUILT_DIR = COUNCIL_PAGE.builtDir;
export const SOURCE_DIR = COUNCIL_PAGE.sourceDir;

export async function loadCouncilAssets(page: PageSpec = COUNCIL_PAGE): Promise<CouncilAssets> {
  const built = fs.existsSync(path.join(page.builtDir, 'app.js'));
  const files = new Map<string, Buffer>();
  for (const name of page.staticFiles) files.set(name, fs.readFileSync(path.join(built ? page.builtDir : page.sourceDir, name)));
  files.set('app.js', built ? fs.readFileSync(path.join(page.builtDir, 'app.js')) : Buffer.from(await bundleApp(page)));
  return new Map([...files].map(([name, body]) => [name, asset(name, body)]));
}

/** Bundles a page's app.ts and what it imports into one browser script. */
export async function bundleApp(page: PageSpec = COUNCIL_PAGE): Promise<string> {
  // esbuild comes with the dev tools (tsx, vite); a production install serves the prebuilt bundle instead.
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [path.join(page.sourceDir, 'app.ts')],
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

/** Writes a page into `dir` (default: dist/<page>/web/); `npm run build` calls this through build.ts. */
export async function writeCouncilAssets(dir = BUILT_DIR, page: PageSpec = COUNCIL_PAGE): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  for (const name of page.staticFiles) fs.copyFileSync(path.join(page.sourceDir, name), path.join(dir, name));
  fs.writeFileSync(path.join(dir, 'app.js'), await bundleApp(page));
}

function asset(name: string, body: Buffer): Asset {
  const etag = `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
  return { type: ASSET_TYPES[name]!, body, etag };
}
