import { setMaxListeners } from 'node:events';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { NormalizedUsage } from '../providers/types.js';
import { answerHeaders as anthropicHeaders, countTokens, errorJson as anthropicErrorJson, messages } from './fake-upstream/anthropic.js';
import { answerHeaders as openaiHeaders, chatCompletions, embeddings, responses } from './fake-upstream/openai.js';
import { formatSse, usage, type FakeProvider, type JsonReply, type Reply, type Route, type StreamReply } from './fake-upstream/wire.js';
import { AZURE_ROUTES, authorizeAzure, azureAnswerHeaders, azureError } from './fake-upstream/azure.js';
import { startFakeEntra, type EntraOptions, type FakeEntra } from './fake-upstream/entra.js';
import { GEMINI_ROUTES, authorizeGemini, geminiAnswerHeaders, googleError, rpcStatusOf } from './fake-upstream/gemini.js';
import { authorizeVertex, mintToken, vertexAnswerHeaders, vertexRoutes, type VertexAccount, type VertexTokens } from './fake-upstream/vertex.js';
import { BEDROCK_ROUTES, bedrockAnswerHeaders, bedrockError, bedrockTypeOf, verifySignature, type BedrockCredential } from './fake-upstream/bedrock.js';

/**
 * A local stand-in for api.openai.com, api.anthropic.com, an Azure OpenAI resource (and its Entra authority), the Gemini API, Vertex AI (with its token endpoint) and Bedrock's runtime: it answers in their wire formats closely
 * enough for the official SDKs, records what it received, keeps its own tally of the usage it reported,
 * and fails on demand. Tests compare tollgate's ledger to that tally.
 */

export type { FakeProvider };

export type FakeUpstreamOptions = {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  openaiKey: string;
  anthropicKey: string;
  /** Azure's api-key and Gemini's x-goog-api-key; unset, every request there is refused as unauthenticated. */
  azureKey?: string;
  geminiKey?: string;
  /** The AWS credential Bedrock calls must be signed with; unset, every request there is refused. */
  bedrock?: BedrockCredential;
  /** An Entra authority (its own HTTPS listener) whose tokens the Azure resource accepts beside its key. */
  entra?: EntraOptions;
  /** Vertex AI's project, location and the service account whose tokens it accepts; unset, /v1/projects/… is not served. */
  vertex?: VertexAccount;
  /** Delay before every answer. */
  latencyMs?: number;
  /** Delay before every SSE event. */
  chunkDelayMs?: number;
};

export type RecordedRequest = {
  id: string;
  method: string;
  /** Path without the query string, e.g. '/v1/messages'. */
  path: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
};

/** ok; error (an error status); cut (socket destroyed mid-answer); stream-error (an error event, then end); hung; client-closed. */
export type UsageOutcome = 'ok' | 'error' | 'cut' | 'stream-error' | 'hung' | 'client-closed';

/** The fake's own account of one request: the usage it put on the wire, in tollgate's normalized form. */
export type UsageRecord = {
  requestId: string;
  provider: FakeProvider;
  path: string;
  model: string | undefined;
  stream: boolean;
  /** HTTP status sent, or 0 when no status line went out (hung, cut before headers). */
  status: number;
  /** What the answer reported so far (a cut stream reports only what its sent events carried). */
  usage: NormalizedUsage;
  /** The final usage report went out. */
  complete: boolean;
  outcome: UsageOutcome;
  /** count_tokens only: the count it answered (free, so not usage). */
  counted?: number;
};

type FaultAction =
  | { fault: 'error'; status: number; type?: string; message?: string; headers?: Record<string, string> }
  | { fault: 'hang' }
  | { fault: 'cut'; afterEvents: number }
  | { fault: 'stream-error'; afterEvents: number; type?: string; message?: string }
  | { fault: 'slow'; chunkDelayMs: number; latencyMs?: number }
  /**
   * A faulty provider: the answer's usage report carries these values in place of (or beside) its own counts
   * (`{ prompt_tokens: 10.5 }`, `{ output_tokens: 1e17 }`), in the JSON body or the stream's final usage event;
   * null: the JSON answer carries no usage report at all.
   */
  | { fault: 'usage'; usage: Record<string, unknown> | null };

/**
 * Makes the next `times` (default 1) requests to `path` (default: any) misbehave; with `match`, only requests
 * whose body (as JSON) contains that text, so that concurrent tests can aim a fault at one call.
 */
export type FaultScript = FaultAction & { path?: string; times?: number; match?: string };

export type FakeUpstream = {
  /** e.g. http://127.0.0.1:54321 — OpenAI clients use url + '/v1', Anthropic clients use url. */
  url: string;
  /** Live: every provider request received, in order. */
  requests: RecordedRequest[];
  /** Live: one record per provider request, updated as its answer goes out. */
  usageLog: UsageRecord[];
  /** The Entra authority, when one was asked for. */
  entra?: FakeEntra;
  /** Live: the Vertex AI tokens the token endpoint (POST /token) minted; `down` makes it answer 503; `lifetimeS`, their expires_in. */
  vertexTokens: VertexTokens;
  script(next: FaultScript | FaultScript[]): void;
  reset(): void;
  close(): Promise<void>;
};

const ROUTES: readonly Route[] = [
  ...AZURE_ROUTES,
  ...GEMINI_ROUTES,
  ...BEDROCK_ROUTES,
  { path: '/v1/chat/completions', provider: 'openai', render: chatCompletions },
  { path: '/v1/responses', provider: 'openai', render: responses },
  { path: '/v1/embeddings', provider: 'openai', render: embeddings },
  { path: '/v1/messages', provider: 'anthropic', render: messages },
  { path: '/v1/messages/count_tokens', provider: 'anthropic', render: countTokens },
];

const FAULTS = new Set(['error', 'hang', 'cut', 'stream-error', 'slow', 'usage']);
const NO_USAGE = usage(0, 0, 0, 0);

const OPENAI_ERROR_TYPES: Record<number, string> = { 400: 'invalid_request_error', 401: 'invalid_request_error', 404: 'invalid_request_error', 429: 'requests' };
const ANTHROPIC_ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error',
  413: 'request_too_large', 429: 'rate_limit_error', 500: 'api_error', 529: 'overloaded_error',
};

function openaiError(status: number, message: string, type?: string, code: string | null = null) {
  const errorType = type ?? OPENAI_ERROR_TYPES[status] ?? (status >= 500 ? 'server_error' : 'invalid_request_error');
  return { error: { message, type: errorType, param: null, code } };
}

function providerError(provider: FakeProvider, status: number, message: string, type?: string, requestId?: string): unknown {
  if (provider === 'openai') return openaiError(status, message, type);
  if (provider === 'azure') return azureError(status, type ?? String(status), message).json;
  if (provider === 'gemini' || provider === 'vertex') return googleError(status, message, type ?? rpcStatusOf(status)).json;
  return anthropicErrorJson(type ?? ANTHROPIC_ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error'), message, requestId);
}

/** A scripted error in the provider's shape (Bedrock names the error in a header). */
function providerErrorReply(provider: FakeProvider, status: number, message: string, type?: string, requestId?: string): JsonReply {
  if (provider === 'bedrock') return bedrockError(status, type ?? bedrockTypeOf(status), message);
  return denied(status, providerError(provider, status, message, type, requestId));
}

function denied(status: number, json: unknown): JsonReply {
  return { status, json, usage: NO_USAGE };
}

/** The provider's own refusal of a request without the right key (or, for Anthropic, without a version). */
function authorize(provider: FakeProvider, headers: IncomingHttpHeaders, options: FakeUpstreamOptions, vertexTokens: VertexTokens, entra?: FakeEntra): JsonReply | null {
  if (provider === 'vertex') return authorizeVertex(headers, vertexTokens);
  if (provider === 'azure') return authorizeAzure(headers, options.azureKey, entra);
  if (provider === 'gemini') return authorizeGemini(headers, options.geminiKey);
  if (provider === 'openai') {
    if (headers.authorization === `Bearer ${options.openaiKey}`) return null;
    return denied(401, openaiError(401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key'));
  }
  // The SDK sends its key as Authorization: Bearer (recent versions) or x-api-key; every credential
  // present must be the key, so a gateway that leaks the agent's own credential upstream is caught.
  const presented = [headers['x-api-key'], headers.authorization?.replace(/^Bearer /, '')].filter((v) => v !== undefined);
  if (presented.length === 0 || presented.some((key) => key !== options.anthropicKey)) {
    return denied(401, anthropicErrorJson('authentication_error', 'invalid x-api-key'));
  }
  if (headers['anthropic-version'] === undefined) {
    return denied(400, anthropicErrorJson('invalid_request_error', 'anthropic-version: header is required'));
  }
  return null;
}

/** The reply with `counts` written over its usage report (JSON body, or the stream event that completes the report). */
function misreport(reply: Reply, counts: Record<string, unknown> | null): Reply {
  const patch = (usage: unknown) => ({ ...(usage as object), ...counts });
  if (!('events' in reply)) {
    const { usage, ...json } = reply.json as { usage?: unknown };
    if (usage === undefined) return reply;
    return { ...reply, json: counts === null ? json : { ...json, usage: patch(usage) } };
  }
  const events = reply.events.map((event) => {
    if (event.final !== true) return event;
    const data = JSON.parse(event.data) as { usage?: unknown; response?: { usage?: unknown } };
    const patched = data.response !== undefined ? { ...data, response: { ...data.response, usage: patch(data.response.usage) } } : { ...data, usage: patch(data.usage) };
    return { ...event, data: JSON.stringify(patched) };
  });
  return { ...reply, events };
}

function writeFlushed(res: ServerResponse, text: string | Uint8Array): Promise<void> {
  return new Promise((resolve) => res.write(text, () => resolve()));
}

function streamErrorEvent(provider: FakeProvider, type: string | undefined, message: string, path: string): string {
  if (provider === 'vertex' && path.includes('/publishers/anthropic/')) return streamErrorEvent('anthropic', type, message, path);
  if (provider === 'gemini' || provider === 'vertex') return `data: ${JSON.stringify(googleError(503, message, type ?? 'UNAVAILABLE').json)}\n\n`;
  if (provider === 'openai' || provider === 'azure') return `data: ${JSON.stringify(openaiError(500, message, type))}\n\n`;
  return `event: error\ndata: ${JSON.stringify(anthropicErrorJson(type ?? 'overloaded_error', message))}\n\n`;
}

export async function startFakeUpstream(options: FakeUpstreamOptions): Promise<FakeUpstream> {
  const requests: RecordedRequest[] = [];
  const usageLog: UsageRecord[] = [];
  const faults: { script: FaultScript; remaining: number }[] = [];
  const vertexTokens: VertexTokens = { minted: [], grants: 0, down: false, lifetimeS: 3599 };
  const closing = new AbortController();
  // Every hung answer waits on it: many at once are expected, not a leak.
  setMaxListeners(0, closing.signal);
  let counter = 0;
  const entra = options.entra === undefined ? undefined : await startFakeEntra(options.entra);

  const app: FastifyInstance = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: 32 * 1024 * 1024 });
  // The body as received is kept: Bedrock's signature covers its bytes.
  const rawBodies = new WeakMap<FastifyRequest, string>();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, text, done) => {
    rawBodies.set(request, text as string);
    try {
      done(null, JSON.parse(text as string) as unknown);
    } catch (err) {
      (err as { statusCode?: number }).statusCode = 400;
      done(err as Error, undefined);
    }
  });

  async function authorizeBedrock(request: FastifyRequest): Promise<JsonReply | null> {
    if (options.bedrock === undefined) return bedrockError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
    return verifySignature(request, rawBodies.get(request) ?? '', options.bedrock);
  }

  function takeFault(path: string, body: unknown): FaultScript | undefined {
    const text = faults.some(({ script }) => script.match !== undefined) ? JSON.stringify(body) : '';
    const index = faults.findIndex(({ script }) => (script.path === undefined || script.path === path) && (script.match === undefined || text.includes(script.match)));
    const entry = faults[index];
    if (entry === undefined) return undefined;
    if (--entry.remaining <= 0) faults.splice(index, 1);
    return entry.script;
  }

  async function sendJson(res: ServerResponse, reply: JsonReply, fault: FaultScript | undefined, record: UsageRecord): Promise<void> {
    const text = JSON.stringify(reply.json);
    const extra = fault?.fault === 'error' ? fault.headers : undefined;
    res.writeHead(reply.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...providerHeaders(record), ...reply.headers, ...extra });
    record.status = reply.status;
    if (fault?.fault === 'cut') {
      await writeFlushed(res, text.slice(0, text.length >> 1));
      res.destroy();
      record.outcome = 'cut';
      return;
    }
    res.end(text);
    Object.assign(record, { usage: reply.usage, complete: reply.status < 400, outcome: reply.status < 400 ? 'ok' : 'error' });
    if (reply.counted !== undefined) record.counted = reply.counted;
  }

  async function sendStream(res: ServerResponse, reply: StreamReply, fault: FaultScript | undefined, record: UsageRecord): Promise<void> {
    res.writeHead(200, { 'content-type': reply.contentType ?? 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...providerHeaders(record) });
    res.flushHeaders();
    record.status = 200;
    const delay = fault?.fault === 'slow' ? fault.chunkDelayMs : (options.chunkDelayMs ?? 0);
    for (const [index, event] of reply.events.entries()) {
      if (fault?.fault === 'cut' && index === fault.afterEvents) {
        res.destroy();
        record.outcome = 'cut';
        return;
      }
      if (fault?.fault === 'stream-error' && index === fault.afterEvents) {
        res.end(reply.encodeError ? reply.encodeError(fault.type, fault.message ?? 'Overloaded') : streamErrorEvent(record.provider, fault.type, fault.message ?? 'Overloaded', record.path));
        record.outcome = 'stream-error';
        return;
      }
      if (delay > 0) await sleep(delay);
      if (res.destroyed) {
        record.outcome = 'client-closed';
        return;
      }
      await writeFlushed(res, reply.encode ? reply.encode(event) : formatSse(event));
      if (event.usage !== undefined) record.usage = event.usage;
      if (event.final === true) record.complete = true;
    }
    // Cutting at or past the last event still drops the connection before the chunked terminator.
    if (fault?.fault === 'cut') {
      res.destroy();
      record.outcome = 'cut';
      return;
    }
    res.end();
  }

  function providerHeaders(record: UsageRecord): Record<string, string | string[]> {
    if (record.provider === 'openai') return { 'x-request-id': record.requestId, ...openaiHeaders() };
    if (record.provider === 'azure') return azureAnswerHeaders(record.requestId);
    if (record.provider === 'gemini') return geminiAnswerHeaders();
    if (record.provider === 'vertex') return vertexAnswerHeaders();
    if (record.provider === 'bedrock') return bedrockAnswerHeaders(record.requestId);
    return { 'request-id': record.requestId, ...anthropicHeaders() };
  }

  async function hang(res: ServerResponse, record: UsageRecord): Promise<void> {
    record.outcome = 'hung';
    await new Promise<void>((resolve) => {
      closing.signal.addEventListener('abort', () => resolve(), { once: true });
      res.once('close', resolve);
    });
    res.destroy();
  }

  async function answer(route: Route, request: FastifyRequest, res: ServerResponse, record: UsageRecord): Promise<void> {
    const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, unknown>;
    const refusal = (route.provider === 'bedrock' ? await authorizeBedrock(request) : authorize(route.provider, request.headers, options, vertexTokens, entra)) ?? route.refuse?.(request) ?? null;
    if (refusal !== null) return sendJson(res, refusal, undefined, record);
    const model = route.model ? route.model(request) : body.model;
    if (typeof model !== 'string') {
      return sendJson(res, denied(400, providerError(route.provider, 400, 'model: Field required')), undefined, record);
    }
    // By the path as requested: a vendor route's pattern (/openai/deployments/:deployment/…) is no path a script names.
    const fault = takeFault(record.path, body);
    const latency = fault?.fault === 'slow' ? (fault.latencyMs ?? 0) : (options.latencyMs ?? 0);
    if (latency > 0) await sleep(latency);
    if (fault?.fault === 'hang') return hang(res, record);
    if (fault?.fault === 'error') {
      return sendJson(res, providerErrorReply(route.provider, fault.status, fault.message ?? 'The fake upstream was told to fail.', fault.type, record.requestId), fault, record);
    }
    const betas = String(request.headers['anthropic-beta'] ?? '').split(',').map((b) => b.trim()).filter((b) => b !== '');
    const rendered: Reply = route.render({ ...body, model }, { id: record.requestId, created: Math.floor(Date.now() / 1000), betas });
    const reply = fault?.fault === 'usage' ? misreport(rendered, fault.usage) : rendered;
    return 'events' in reply ? sendStream(res, reply, fault, record) : sendJson(res, reply, fault, record);
  }

  // Google's token endpoint takes a form (grant_type, assertion).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  const vertex = options.vertex;
  if (vertex !== undefined) {
    app.post('/token', async (request, reply) => {
      const minted = await mintToken((request.body ?? {}) as Record<string, string>, vertex, vertexTokens);
      return reply.code(minted.status).send(minted.json);
    });
  }

  for (const route of [...ROUTES, ...(vertex === undefined ? [] : vertexRoutes(vertex))]) {
    app.post(route.path, async (request, reply) => {
      const id = `fake${String(++counter).padStart(6, '0')}`;
      const body = request.body as Record<string, unknown> | undefined;
      const path = request.url.split('?')[0] ?? request.url;
      requests.push({ id, method: request.method, path, url: request.url, headers: { ...request.headers }, body });
      const params = request.params as { deployment?: string; model?: string; modelId?: string };
      const named = params.deployment ?? params.model ?? params.modelId ?? body?.model;
      const model = typeof named === 'string' ? named : undefined;
      const record: UsageRecord = {
        requestId: id, provider: route.provider, path, model, stream: route.streams ?? body?.stream === true,
        status: 0, usage: { ...NO_USAGE }, complete: false, outcome: 'ok',
      };
      usageLog.push(record);
      reply.hijack();
      await answer(route, request, reply.raw, record);
    });
  }

  const control = {
    script(next: FaultScript | FaultScript[]): void {
      for (const script of Array.isArray(next) ? next : [next]) {
        if (!FAULTS.has(String(script?.fault))) throw new TypeError(`Unknown fault: ${String(script?.fault)}`);
        faults.push({ script, remaining: script.times ?? 1 });
      }
    },
    reset(): void {
      requests.length = 0;
      usageLog.length = 0;
      faults.length = 0;
    },
  };

  app.get('/_fake/requests', async () => requests);
  app.get('/_fake/usage', async () => usageLog);
  app.post('/_fake/script', async (request, reply) => {
    try {
      control.script(request.body as FaultScript | FaultScript[]);
    } catch (err) {
      return reply.code(400).send({ error: (err as Error).message });
    }
    return reply.code(204).send();
  });
  app.post('/_fake/reset', async (_request, reply) => {
    control.reset();
    return reply.code(204).send();
  });

  const address = await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  return {
    url: address,
    requests,
    usageLog,
    vertexTokens,
    ...(entra === undefined ? {} : { entra }),
    ...control,
    async close() {
      closing.abort();
      await app.close();
      await entra?.close();
    },
  };
}
