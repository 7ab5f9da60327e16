import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Tests run the CLI and `serve` as users do, from dist/ (`node dist/cli/main.js`), which starts in a third of
 * the CPU of compiling src/ through tsx in every process. Builds dist/ first when src/ changed since its last
 * build (the same check `npm start` makes; after `npm ci` it is current).
 */
export default function setup(): void {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  execFileSync(process.execPath, [path.join(root, 'src/build.mjs')], { cwd: root, stdio: 'inherit' });
}
