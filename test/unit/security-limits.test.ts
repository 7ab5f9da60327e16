import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { MAX_JSON_DEPTH } from '../../src/gateway/body.js';
import { MAX_BAGGAGE_BYTES } from '../../src/gateway/tags.js';
import { LIMITS } from '../../src/graphql/limits.js';
import { ID_ALPHABET, MAX_ID_LENGTH } from '../../src/ids.js';
import { METER_FAILURE_STREAK } from '../../src/ops/routes.js';
import { MAX_MODEL_LENGTH, MAX_OUTPUT_TOKENS } from '../../src/providers/endpoint-spec.js';
import { MAX_TOKEN_COUNT } from '../../src/providers/json.js';
import { ENDPOINTS } from '../../src/providers/openai/body.js';

/**
 * README's "Security limits" states the figures the code uses (issue 16: "README's security section states the
 * limits … and what happens past each"): a limit changed in the code and not in README fails here.
 */

const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('\n### Security limits\n'), readme.indexOf('\n## Policies\n'));
const n = (v: number) => v.toLocaleString('en-US');
const c = loadConfig({}, {});

describe("README's security limits", () => {
  it('is there', () => {
    expect(section.length).toBeGreaterThan(1000);
  });

  it.each([
    ['tag pattern', `1 to ${MAX_ID_LENGTH} of \`${ID_ALPHABET}\``],
    ['baggage', `${MAX_BAGGAGE_BYTES} bytes`],
    ['JSON nesting', `${MAX_JSON_DEPTH} levels`],
    ['output limits', `whole numbers from 1 to ${n(MAX_OUTPUT_TOKENS)}`],
    ['n', `whole numbers from 1 to ${ENDPOINTS['/chat/completions']!.choices!.max}`],
    ['model name', `at most ${MAX_MODEL_LENGTH} characters`],
    ['body', `\`TOLLGATE_BODY_LIMIT\` (${c.bodyLimit / 2 ** 20} MiB)`],
    ['request timeout', `\`TOLLGATE_REQUEST_TIMEOUT_MS\` (${c.requestTimeoutMs / 1000} s)`],
    ['upstream timeout', `\`TOLLGATE_UPSTREAM_TIMEOUT_MS\` (${c.upstreamTimeoutMs / 1000} s)`],
    ['JWT lifetime', `\`TOLLGATE_JWT_MAX_LIFETIME_S\` (${c.jwt.maxLifetimeS === 86_400 ? '1 day' : `${c.jwt.maxLifetimeS} s`})`],
    ['auth failures', `\`TOLLGATE_AUTH_FAILURE_LIMIT\` (${c.authFailures.limit}) per \`TOLLGATE_AUTH_FAILURE_WINDOW_MS\` (${c.authFailures.windowMs / 1000} s)`],
    ['token counts', `a whole number from 0 to 10^${Math.log10(MAX_TOKEN_COUNT)}`],
    ['output bound', `\`TOLLGATE_BOUND_OUTPUT_TOKENS\` (${n(c.bound.outputUnset)})`],
    ['input allowance', `\`TOLLGATE_BOUND_INPUT_ALLOWANCE\` (${n(c.bound.inputAllowance)})`],
    ['state allowance', `\`TOLLGATE_BOUND_STATE_ALLOWANCE\` (${n(c.bound.stateAllowance)})`],
    ['meter lag', `\`TOLLGATE_READY_METER_LAG_MS\` (${c.readyMeterLagMs / 1000} s), and fewer than ${METER_FAILURE_STREAK} failed flushes`],
    ['GraphQL body', `| GraphQL request body (HTTP), message (WebSocket) | ${LIMITS.maxBodyBytes / 1024} KiB |`],
    ['GraphQL tokens', `| GraphQL tokens | ${n(LIMITS.maxTokens)} |`],
    ['GraphQL document', `| GraphQL aliases, directives, fields | ${LIMITS.maxAliases}, ${LIMITS.maxDirectives}, ${LIMITS.maxFields} (`],
    ['GraphQL depth and cost', `| GraphQL depth, cost | ${LIMITS.maxDepth} (introspection not counted), ${n(LIMITS.maxComplexity)} (`],
    ['GraphQL time', `| GraphQL time | ${LIMITS.timeoutMs / 1000} s |`],
  ])('states the %s as the code has it', (_what, text) => {
    expect(section).toContain(text);
  });
});
