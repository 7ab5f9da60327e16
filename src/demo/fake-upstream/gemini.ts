import type { FastifyRequest } from 'fastify';
import { foldTurns, planToolCall, type LastTurn, type ToolCall } from './turn.js';
import { replyWords, sse, toolArguments, usage, type JsonReply, type Renderer, type Reply, type Route, type SseOut } from './wire.js';

/**
 * The Gemini API's wire format (https://ai.google.dev/api/generate-content): GenerateContentResponse with
 * candidates and usageMetadata (promptTokenCount includes cachedContentTokenCount; thoughtsTokenCount apart from
 * candidatesTokenCount), streams as SSE of whole responses with running usage, errors as
 * `{ error: { code, message, status } }`. "[cache]" in the prompt makes half of it a cache read, "[think]" adds
 * THOUGHTS thinking tokens.
 */

type Json = Record<string, unknown>;
const record = (value: unknown): Json | undefined => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined);

export const GEMINI_MODELS: ReadonlySet<string> = new Set(['gemini-2.5-pro', 'gemini-2.5-flash', 'gemini-2.5-flash-lite']);
const THOUGHTS = 8;

export function googleError(status: number, message: string, rpcStatus: string, reason?: string): JsonReply {
  const details = reason === undefined ? {} : { details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'googleapis.com' }] };
  return { status, json: { error: { code: status, message, status: rpcStatus, ...details } }, usage: usage(0, 0, 0, 0) };
}

const RPC_STATUS: Record<number, string> = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE' };
export const rpcStatusOf = (status: number): string => RPC_STATUS[status] ?? (status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT');

/** Google answers a bad key with 400 API_KEY_INVALID; every credential present must be the key. */
export function authorizeGemini(headers: FastifyRequest['headers'], key: string | undefined): JsonReply | null {
  if (headers['x-goog-api-key'] === key && headers.authorization === undefined) return null;
  return googleError(400, 'API key not valid. Please pass a valid API key.', 'INVALID_ARGUMENT', 'API_KEY_INVALID');
}

/** Text of the parts of `contents` and `systemInstruction`. */
function partsText(value: unknown, out: string[]): void {
  if (Array.isArray(value)) for (const item of value) partsText(item, out);
  const item = record(value);
  if (item === undefined) return;
  if (typeof item.text === 'string') out.push(item.text);
  if (item.parts !== undefined) partsText(item.parts, out);
}

function prompt(body: Json): { total: number; cached: number; think: boolean } {
  const out: string[] = [];
  partsText(body.systemInstruction, out);
  partsText(body.contents, out);
  const text = out.join('\n');
  const total = Math.max(1, Math.ceil(text.length / 4));
  return { total, cached: text.includes('[cache]') ? Math.floor(total / 2) : 0, think: text.includes('[think]') };
}

const hasPart = (turn: Json, key: string) => Array.isArray(turn.parts) && (turn.parts as unknown[]).some((p) => record(p)?.[key] !== undefined);

function lastTurn(body: Json): LastTurn {
  const contents = Array.isArray(body.contents) ? (body.contents as unknown[]).map(record).filter((c): c is Json => c !== undefined) : [];
  const userText = (turn: Json) => (turn.role !== 'model' && hasPart(turn, 'text') ? ((turn.parts as Json[]).map((p) => p.text).join('\n')) : undefined);
  return foldTurns(contents, userText, (turn) => hasPart(turn, 'functionResponse'));
}

function toolToCall(body: Json): ToolCall | undefined {
  const calling = record(record(body.toolConfig)?.functionCallingConfig);
  if (calling?.mode === 'NONE' || !Array.isArray(body.tools)) return undefined;
  const names = (body.tools as unknown[]).flatMap((tool) => (record(tool)?.functionDeclarations as unknown[] | undefined) ?? []).map((fn) => record(fn)?.name);
  const declared = new Map(names.filter((n): n is string => typeof n === 'string').map((n) => [n, { freeform: false }]));
  const allowed = Array.isArray(calling?.allowedFunctionNames) ? (calling.allowedFunctionNames as unknown[])[0] : undefined;
  return planToolCall(declared.size > 0 ? declared : null, lastTurn(body), typeof allowed === 'string' ? allowed : undefined);
}

function usageMetadata(promptTotal: number, cached: number, candidates: number, thoughts: number): Json {
  return {
    promptTokenCount: promptTotal,
    candidatesTokenCount: candidates,
    totalTokenCount: promptTotal + candidates + thoughts,
    ...(cached > 0 ? { cachedContentTokenCount: cached } : {}),
    ...(thoughts > 0 ? { thoughtsTokenCount: thoughts } : {}),
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: promptTotal }],
  };
}

type Plan = { parts: Json[][]; words: number; thoughts: number; prompt: ReturnType<typeof prompt>; n: number; model: string };

/** Each candidate's parts, one per reply word (a tool call is one part, billed one token per word of its arguments). */
function plan(body: Json): Plan {
  const config = record(body.generationConfig) ?? {};
  const p = prompt(body);
  const thoughts = p.think ? THOUGHTS : 0;
  const limit = typeof config.maxOutputTokens === 'number' ? Math.max(1, config.maxOutputTokens - thoughts) : undefined;
  const { words } = replyWords(limit);
  const n = typeof config.candidateCount === 'number' ? config.candidateCount : 1;
  const tool = toolToCall(body);
  const parts = tool === undefined
    ? words.map((text) => [{ text }])
    : [[{ functionCall: { name: tool.name, args: JSON.parse(toolArguments(words, tool.input).json) as unknown } }]];
  return { parts, words: words.length, thoughts, prompt: p, n, model: String(body.model) };
}

function normalized(p: Plan, candidates: number, thoughts: number) {
  return usage(p.prompt.total - p.prompt.cached, p.prompt.cached, 0, candidates + thoughts);
}

const candidate = (index: number, parts: Json[], finished: boolean) => ({
  content: { parts, role: 'model' }, index, ...(finished ? { finishReason: 'STOP' } : {}),
});

export const generateContent: Renderer = (body, { id }): Reply => {
  const p = plan(body);
  const candidates = Array.from({ length: p.n }, (_, index) => candidate(index, p.parts.length === 1 ? p.parts[0]! : [{ text: p.parts.map((x) => x[0]!.text).join('') }], true));
  const output = p.words * p.n;
  const json = { candidates, usageMetadata: usageMetadata(p.prompt.total, p.prompt.cached, output, p.thoughts), modelVersion: p.model, responseId: id };
  return { status: 200, json, usage: normalized(p, output, p.thoughts) };
};

export const streamGenerateContent: Renderer = (body, { id }): Reply => {
  const p = plan(body);
  const perPart = p.words / p.parts.length;
  const events: SseOut[] = [];
  let output = 0;
  for (let index = 0; index < p.n; index++) {
    p.parts.forEach((parts, i) => {
      output += perPart;
      const last = index === p.n - 1 && i === p.parts.length - 1;
      const chunk = { candidates: [candidate(index, parts, i === p.parts.length - 1)], usageMetadata: usageMetadata(p.prompt.total, p.prompt.cached, output, p.thoughts), modelVersion: p.model, responseId: id };
      events.push(sse(undefined, chunk, { usage: normalized(p, output, p.thoughts), ...(last ? { final: true } : {}) }));
    });
  }
  return { status: 200, events };
};

export const countTokens: Renderer = (body): Reply => {
  const p = prompt(body);
  const json = { totalTokens: p.total, ...(p.cached > 0 ? { cachedContentTokenCount: p.cached } : {}), promptTokensDetails: [{ modality: 'TEXT', tokenCount: p.total }] };
  return { status: 200, json, usage: usage(0, 0, 0, 0), counted: p.total };
};

const modelParam = (request: FastifyRequest) => (request.params as { model?: string }).model;

function unknownModel(request: FastifyRequest, method: string): JsonReply | null {
  const model = modelParam(request);
  if (model !== undefined && GEMINI_MODELS.has(model)) return null;
  return googleError(404, `models/${String(model)} is not found for API version v1beta, or is not supported for ${method}. Call ListModels to see the list of available models and their supported methods.`, 'NOT_FOUND');
}

function route(method: string, render: Renderer, streams = false): Route {
  // The regex keeps the model from swallowing the method: `:model::m` alone makes every method one route.
  return { path: `/v1beta/models/:model(^[A-Za-z0-9._-]+)::${method}`, provider: 'gemini', render, model: modelParam, refuse: (request) => unknownModel(request, method), streams };
}

export const GEMINI_ROUTES: readonly Route[] = [
  route('generateContent', generateContent),
  route('streamGenerateContent', streamGenerateContent, true),
  route('countTokens', countTokens),
];

/** Google's answer headers: framing, and its front end's markers (never to reach an agent). */
export function geminiAnswerHeaders(): Record<string, string> {
  return { server: 'scaffolding on HTTPServer2', 'server-timing': 'gfet4t7; dur=42', 'x-xss-protection': '0', 'x-content-type-options': 'nosniff' };
}
