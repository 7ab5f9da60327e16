import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { stringify } from 'lossless-json';
import { anthropicCostResults, anthropicUsageResults } from './fake-upstream/report-anthropic.js';
import { openaiCostResults, openaiUsageResults } from './fake-upstream/report-openai.js';
import type { FakePrice, FakeReportCall } from './fake-upstream/reports.js';

/**
 * A local stand-in for the providers' report APIs (OpenAI's organization usage and costs, Anthropic's Admin
 * usage and cost reports), answering from the calls a test gives it, with daily buckets, group_by, `limit`
 * buckets a page and an opaque next_page cursor, admin-key checks, and pages that fail on demand.
 */

export type { FakePrice, FakeReportCall };

export type FakeReportsOptions = { openaiAdminKey: string; anthropicAdminKey: string; prices: Readonly<Record<string, FakePrice>> };

/** Makes the `page`-th page (1-based) of `path` answer `status` the next `times` (default 1) times it is asked for. */
export type ReportFault = { path: string; page: number; status: number; times?: number; retryAfterSeconds?: number };

export type FakeReports = {
  url: string;
  /** Every request: path, query string and page number. */
  requests: { path: string; query: string; page: number }[];
  add(calls: readonly FakeReportCall[]): void;
  fail(fault: ReportFault): void;
  reset(): void;
  close(): Promise<void>;
};

type Endpoint = {
  provider: 'openai' | 'anthropic';
  kind: 'usage' | 'cost';
  results(calls: readonly FakeReportCall[], fields: readonly string[], prices: Readonly<Record<string, FakePrice>>): object[];
};

const ENDPOINTS: Record<string, Endpoint> = {
  '/v1/organization/usage/completions': { provider: 'openai', kind: 'usage', results: (c, f) => openaiUsageResults(c, f) },
  '/v1/organization/costs': { provider: 'openai', kind: 'cost', results: openaiCostResults },
  '/v1/organizations/usage_report/messages': { provider: 'anthropic', kind: 'usage', results: (c, f) => anthropicUsageResults(c, f) },
  '/v1/organizations/cost_report': { provider: 'anthropic', kind: 'cost', results: anthropicCostResults },
};

const DAY_MS = 86_400_000;
// The documented default and maximum of `limit` for daily buckets (Anthropic's cost report and OpenAI's usage: 31; OpenAI's costs: 180).
const DEFAULT_LIMIT = 7;

export async function startFakeReports(options: FakeReportsOptions): Promise<FakeReports> {
  const calls: FakeReportCall[] = [];
  const faults: (ReportFault & { remaining: number })[] = [];
  const requests: FakeReports['requests'] = [];
  const app = Fastify({ logger: false, forceCloseConnections: true });

  for (const [path, endpoint] of Object.entries(ENDPOINTS)) {
    app.get(path, async (request, reply) => {
      const query = new URL(request.url, 'http://fake').searchParams;
      const denied = authorize(endpoint.provider, request, options);
      if (denied) return send(reply, denied.status, denied.body);
      const range = rangeOf(endpoint.provider, query);
      if ('error' in range) return send(reply, 400, errorBody(endpoint.provider, 400, range.error));
      const limit = Number(query.get('limit') ?? DEFAULT_LIMIT);
      const offset = cursorOffset(endpoint.provider, query.get('page'), range.from);
      if (!Number.isInteger(limit) || limit < 1 || offset === null) return send(reply, 400, errorBody(endpoint.provider, 400, 'invalid limit or page'));
      const pageNo = Math.floor(offset / limit) + 1;
      requests.push({ path, query: query.toString(), page: pageNo });
      const fault = faults.find((f) => f.path === path && f.page === pageNo && f.remaining > 0);
      if (fault) {
        fault.remaining--;
        if (fault.retryAfterSeconds !== undefined) reply.header('retry-after', String(fault.retryAfterSeconds));
        return send(reply, fault.status, errorBody(endpoint.provider, fault.status, 'The server had an error while processing your request.'));
      }
      const fields = [...query.getAll('group_by[]'), ...query.getAll('group_by')];
      const days = Math.ceil((range.to - range.from) / DAY_MS);
      const buckets = [];
      for (let i = offset; i < Math.min(days, offset + limit); i++) {
        const start = range.from + i * DAY_MS;
        const day = new Date(start).toISOString().slice(0, 10);
        const mine = calls.filter((c) => c.provider === endpoint.provider && c.day === day);
        buckets.push(bucket(endpoint.provider, start, endpoint.results(mine, fields, options.prices)));
      }
      const next = offset + limit < days ? cursor(endpoint.provider, range.from + (offset + limit) * DAY_MS) : null;
      return send(reply, 200, endpoint.provider === 'openai'
        ? { object: 'page', data: buckets, has_more: next !== null, next_page: next }
        : { data: buckets, has_more: next !== null, next_page: next });
    });
  }

  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    add: (more) => void calls.push(...more),
    fail: (fault) => void faults.push({ ...fault, remaining: fault.times ?? 1 }),
    reset() {
      calls.length = 0;
      faults.length = 0;
      requests.length = 0;
    },
    close: () => app.close(),
  };
}

function send(reply: FastifyReply, status: number, body: unknown) {
  return reply.code(status).header('content-type', 'application/json').send(stringify(body));
}

function authorize(provider: Endpoint['provider'], request: FastifyRequest, o: FakeReportsOptions): { status: number; body: object } | null {
  if (provider === 'openai') {
    if (request.headers.authorization === `Bearer ${o.openaiAdminKey}`) return null;
    return { status: 401, body: { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } };
  }
  if (request.headers['x-api-key'] !== o.anthropicAdminKey) return { status: 401, body: errorBody('anthropic', 401, 'invalid x-api-key') };
  if (request.headers['anthropic-version'] === undefined) return { status: 400, body: errorBody('anthropic', 400, 'anthropic-version: header is required') };
  return null;
}

function errorBody(provider: Endpoint['provider'], status: number, message: string): object {
  if (provider === 'openai') return { error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code: null } };
  const type = status === 401 ? 'authentication_error' : status >= 500 ? 'api_error' : 'invalid_request_error';
  return { type: 'error', error: { type, message } };
}

/** OpenAI: start_time/end_time in Unix seconds; Anthropic: starting_at/ending_at in RFC 3339; snapped to days. */
function rangeOf(provider: Endpoint['provider'], q: URLSearchParams): { from: number; to: number } | { error: string } {
  const [from, to] = provider === 'openai'
    ? [Number(q.get('start_time')) * 1000, Number(q.get('end_time')) * 1000]
    : [Date.parse(q.get('starting_at') ?? ''), Date.parse(q.get('ending_at') ?? '')];
  if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) return { error: 'a valid start and end time are required' };
  if ((q.get('bucket_width') ?? '1d') !== '1d') return { error: 'this fake serves daily buckets only' };
  return { from: Math.floor(from / DAY_MS) * DAY_MS, to: Math.ceil(to / DAY_MS) * DAY_MS };
}

function bucket(provider: Endpoint['provider'], start: number, results: object[]): object {
  if (provider === 'openai') return { object: 'bucket', start_time: start / 1000, end_time: (start + DAY_MS) / 1000, results };
  return { starting_at: new Date(start).toISOString().replace('.000Z', 'Z'), ending_at: new Date(start + DAY_MS).toISOString().replace('.000Z', 'Z'), results };
}

// Anthropic's cursors read "page_" + base64 of the next bucket's start (its documented example); OpenAI's are opaque base64.
function cursor(provider: Endpoint['provider'], nextStart: number): string {
  const iso = new Date(nextStart).toISOString().replace('.000Z', 'Z');
  return provider === 'anthropic' ? `page_${Buffer.from(iso).toString('base64')}` : Buffer.from(`t:${nextStart / 1000}`).toString('base64');
}

function cursorOffset(provider: Endpoint['provider'], page: string | null, from: number): number | null {
  if (page === null) return 0;
  const text = Buffer.from(provider === 'anthropic' ? page.replace(/^page_/, '') : page, 'base64').toString();
  const start = provider === 'anthropic' ? Date.parse(text) : Number(text.replace(/^t:/, '')) * 1000;
  if (!Number.isFinite(start) || start < from || (start - from) % DAY_MS !== 0) return null;
  return (start - from) / DAY_MS;
}
