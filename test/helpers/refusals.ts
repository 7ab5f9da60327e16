import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const README = fileURLToPath(new URL('../../README.md', import.meta.url));

/** README's "Errors" table: code → status, as documented (not as src/errors.ts says, which is what is checked). */
export function documentedCodes(): Map<string, number> {
  const text = fs.readFileSync(README, 'utf8');
  const section = text.slice(text.indexOf('\n## Errors\n'), text.indexOf('\n## Configuration\n'));
  return new Map([...section.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])]));
}

export type CallerFormat = 'openai' | 'anthropic';

/**
 * Why an answer is not a refusal in the caller's format with a documented code, or null when it is: README's
 * code and status, the code in `x-tollgate-error-code` and in the body, the body in the route's provider's shape
 * (OpenAI: `{error: {message, type, code}}`; Anthropic: `{type: 'error', error: {type, message, code}}`).
 */
export function refusalProblem(codes: Map<string, number>, format: CallerFormat, status: number, headers: { get(name: string): string | null | undefined }, body: string): string | null {
  const code = headers.get('x-tollgate-error-code');
  if (!code) return `${status} without x-tollgate-error-code: ${body.slice(0, 200)}`;
  if (!codes.has(code)) return `code ${code} is not in README's error table`;
  if (codes.get(code) !== status) return `code ${code} came with ${status}, README says ${codes.get(code)}`;
  let json: { type?: unknown; error?: { type?: unknown; message?: unknown; code?: unknown } };
  try {
    json = JSON.parse(body) as typeof json;
  } catch {
    return `${code}: the body is not JSON: ${body.slice(0, 200)}`;
  }
  const e = json.error;
  if (e?.code !== code || typeof e.message !== 'string' || typeof e.type !== 'string') return `${code}: not an error object with type, message and code: ${body.slice(0, 200)}`;
  if (format === 'anthropic' && json.type !== 'error') return `${code}: not in Anthropic's shape (type: 'error'): ${body.slice(0, 200)}`;
  return null;
}
