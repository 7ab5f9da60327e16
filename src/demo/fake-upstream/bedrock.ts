import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { Sha256 } from '@aws-crypto/sha256-js';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { SignatureV4 } from '@smithy/signature-v4';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { messages } from './anthropic.js';
import { foldTurns, planToolCall, type ToolCall } from './turn.js';
import { promptTokens, replyWords, sse, toolArguments, usage, type JsonReply, type Renderer, type Reply, type Route, type SseOut, type StreamReply } from './wire.js';

/**
 * Amazon Bedrock runtime's wire formats (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_Operations_Amazon_Bedrock_Runtime.html):
 * Converse (usage with cache reads and writes apart from inputTokens), ConverseStream and
 * InvokeModelWithResponseStream as AWS event-stream frames (the AWS SDK's own codec), InvokeModel with Anthropic's
 * body and answer, errors as `{ message }` with the exception's name in x-amzn-errortype. Every call must carry a
 * SigV4 signature by the fake's known credential, over the body as received: it is recomputed here with the AWS
 * SDK's signer, and anything else (a bearer token, another key, a changed body) is refused with 403.
 */

type Json = Record<string, unknown>;
const record = (value: unknown): Json | undefined => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined);

/** The fake's AWS credential: tollgate's TOLLGATE_BEDROCK_* in tests. */
export type BedrockCredential = { accessKeyId: string; secretAccessKey: string; region: string };

/** The foundation models the fake serves (inference profiles: the same ids behind a geography prefix). */
export const BEDROCK_MODELS: ReadonlySet<string> = new Set(['anthropic.claude-sonnet-4-5-20250929-v1:0', 'anthropic.claude-haiku-4-5-20251001-v1:0']);
const PROFILE = /^(us|eu|apac|global)\./;
const NAMESPACE = ':http://internal.amazon.com/coral/com.amazon.bedrock/';
const MIN_THINKING_BUDGET = 1024;

export function bedrockError(status: number, type: string, message: string): JsonReply {
  return { status, json: { message }, usage: usage(0, 0, 0, 0), headers: { 'x-amzn-errortype': `${type}${NAMESPACE}` } };
}

const TYPE_BY_STATUS: Record<number, string> = { 400: 'ValidationException', 403: 'AccessDeniedException', 404: 'ResourceNotFoundException', 429: 'ThrottlingException', 500: 'InternalServerException', 503: 'ServiceUnavailableException' };
export const bedrockTypeOf = (status: number): string => TYPE_BY_STATUS[status] ?? (status >= 500 ? 'InternalServerException' : 'ValidationException');

const SIGNATURE = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

/** Recomputes the request's SigV4 signature with the known credential; null when it is the same. */
export async function verifySignature(request: FastifyRequest, rawBody: string, credential: BedrockCredential): Promise<JsonReply | null> {
  const auth = String(request.headers.authorization ?? '');
  const parts = SIGNATURE.exec(auth);
  if (parts === null) return bedrockError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
  const [, keyId, , region, service, signedHeaders] = parts as unknown as string[];
  if (keyId !== credential.accessKeyId) return bedrockError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
  const bodyHash = createHash('sha256').update(rawBody).digest('hex');
  const claimedHash = request.headers['x-amz-content-sha256'];
  const date = String(request.headers['x-amz-date'] ?? '');
  if (region !== credential.region || service !== 'bedrock' || (claimedHash !== undefined && claimedHash !== bodyHash) || !/^\d{8}T\d{6}Z$/.test(date)) {
    return bedrockError(403, 'InvalidSignatureException', 'The request signature we calculated does not match the signature you provided.');
  }
  const headers: Record<string, string> = {};
  for (const name of signedHeaders!.split(';')) headers[name] = String(request.headers[name] ?? '');
  const [path, query = ''] = request.url.split('?') as [string, string?];
  const signer = new SignatureV4({ service: 'bedrock', region: credential.region, credentials: credential, sha256: Sha256 });
  const signingDate = new Date(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 11)}:${date.slice(11, 13)}:${date.slice(13)}`);
  const expected = await signer.sign(
    { method: request.method, protocol: 'http:', hostname: headers.host ?? '', path, query: Object.fromEntries(new URLSearchParams(query)), headers, body: rawBody },
    { signingDate },
  );
  if (expected.headers.authorization !== auth) {
    return bedrockError(403, 'InvalidSignatureException', 'The request signature we calculated does not match the signature you provided.');
  }
  return null;
}

const modelParam = (request: FastifyRequest) => (request.params as { modelId?: string }).modelId;
const foundationModel = (id: string) => id.replace(PROFILE, '');

function unknownModel(request: FastifyRequest): JsonReply | null {
  const model = modelParam(request);
  if (model !== undefined && BEDROCK_MODELS.has(foundationModel(model))) return null;
  return bedrockError(400, 'ValidationException', 'The provided model identifier is invalid.');
}

/** Anthropic's model name as Bedrock's InvokeModel answer gives it. */
const anthropicName = (id: string) => foundationModel(id).replace(/^anthropic\./, '').replace(/-v\d+:\d+$/, '');

// Converse ------------------------------------------------------------------------------------------------------

const contentOf = (message: Json): Json[] => (Array.isArray(message.content) ? (message.content as unknown[]).map(record).filter((b): b is Json => b !== undefined) : []);

function converseToolCall(body: Json): ToolCall | undefined {
  const config = record(body.toolConfig);
  if (!Array.isArray(config?.tools)) return undefined;
  const names = (config.tools as unknown[]).map((tool) => record(record(tool)?.toolSpec)?.name).filter((n): n is string => typeof n === 'string');
  const turns = (Array.isArray(body.messages) ? (body.messages as unknown[]) : []).map(record).filter((m): m is Json => m !== undefined);
  const userText = (m: Json) => (m.role === 'user' && !contentOf(m).some((b) => b.toolResult !== undefined) ? contentOf(m).map((b) => String(b.text ?? '')).join('\n') : undefined);
  const last = foldTurns(turns, userText, (m) => m.role === 'user' && contentOf(m).some((b) => b.toolResult !== undefined));
  const chosen = record(record(config.toolChoice)?.tool)?.name;
  return planToolCall(new Map(names.map((n) => [n, { freeform: false }])), last, typeof chosen === 'string' ? chosen : undefined);
}

/** Anthropic's rule, as Bedrock passes it on for additionalModelRequestFields.thinking. */
function thinkingRefusal(budget: unknown, maxTokens: unknown): JsonReply | null {
  if (budget === undefined) return null;
  if (typeof budget !== 'number' || budget < MIN_THINKING_BUDGET) return bedrockError(400, 'ValidationException', `The model returned the following errors: thinking.enabled.budget_tokens: Input should be greater than or equal to ${MIN_THINKING_BUDGET}`);
  if (typeof maxTokens === 'number' && budget >= maxTokens) return bedrockError(400, 'ValidationException', 'The model returned the following errors: `max_tokens` must be greater than `thinking.budget_tokens`.');
  return null;
}

type ConversePlan = { refusal: JsonReply | null; words: string[]; stopReason: string; tool?: ToolCall; wire: Json; tally: ReturnType<typeof usage> };

function planConverse(body: Json): ConversePlan {
  const config = record(body.inferenceConfig) ?? {};
  const thinking = record(record(body.additionalModelRequestFields)?.thinking);
  const refusal = thinkingRefusal(thinking?.type === 'enabled' ? thinking.budget_tokens : undefined, config.maxTokens);
  const prompt = promptTokens(body, { cacheWrites: true });
  const { words, truncated } = replyWords(config.maxTokens);
  const tool = converseToolCall(body);
  const stopReason = truncated ? 'max_tokens' : tool !== undefined ? 'tool_use' : 'end_turn';
  const wire = {
    inputTokens: prompt.fresh, outputTokens: words.length, totalTokens: prompt.total + words.length,
    ...(prompt.cacheRead > 0 ? { cacheReadInputTokens: prompt.cacheRead } : {}),
    ...(prompt.cacheWrite > 0 ? { cacheWriteInputTokens: prompt.cacheWrite } : {}),
  };
  return { refusal, words, stopReason, ...(tool ? { tool } : {}), wire, tally: usage(prompt.fresh, prompt.cacheRead, prompt.cacheWrite, words.length) };
}

export const converse: Renderer = (body, { id }): Reply => {
  const plan = planConverse(body);
  if (plan.refusal !== null) return plan.refusal;
  const block = plan.tool === undefined
    ? { text: plan.words.join('') }
    : { toolUse: { toolUseId: `tooluse_${id}`, name: plan.tool.name, input: JSON.parse(toolArguments(plan.words, plan.tool.input).json) as unknown } };
  const json = { output: { message: { role: 'assistant', content: [block] } }, stopReason: plan.stopReason, usage: plan.wire, metrics: { latencyMs: 42 } };
  return { status: 200, json, usage: plan.tally };
};

export const converseStream: Renderer = (body, { id }): Reply => {
  const plan = planConverse(body);
  if (plan.refusal !== null) return plan.refusal;
  const events: SseOut[] = [sse('messageStart', { role: 'assistant' })];
  if (plan.tool === undefined) {
    events.push(...plan.words.map((text) => sse('contentBlockDelta', { contentBlockIndex: 0, delta: { text } })));
  } else {
    events.push(sse('contentBlockStart', { contentBlockIndex: 0, start: { toolUse: { toolUseId: `tooluse_${id}`, name: plan.tool.name } } }));
    const pieces = toolArguments(plan.words, plan.tool.input).pieces;
    events.push(...pieces.map((input) => sse('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input } } })));
  }
  events.push(
    sse('contentBlockStop', { contentBlockIndex: 0 }),
    sse('messageStop', { stopReason: plan.stopReason }),
    sse('metadata', { usage: plan.wire, metrics: { latencyMs: 42 } }, { usage: plan.tally, final: true }),
  );
  return eventStream(events);
};

// InvokeModel (Anthropic's Messages body) ----------------------------------------------------------------------

/** Checked on the body as received (the fake's renderers get the path's model in `model`). */
function invokeRefusal(request: FastifyRequest): JsonReply | null {
  const body = record(request.body) ?? {};
  if (typeof body.anthropic_version !== 'string' || !/^(bedrock-)?\d{4}-\d{2}-\d{2}$/.test(body.anthropic_version)) return bedrockError(400, 'ValidationException', 'Malformed input request: #: required key [anthropic_version] not found, please reformat your input and try again.');
  if (body.model !== undefined || body.stream !== undefined) return bedrockError(400, 'ValidationException', 'Malformed input request: #: extraneous key [model] is not permitted, please reformat your input and try again.');
  return null;
}

/** Anthropic's refusals (max_tokens, thinking) in Bedrock's shape. */
function asBedrock(reply: Reply): Reply {
  if ('events' in reply || reply.status < 400) return reply;
  const message = String(record(record(reply.json)?.error)?.message ?? 'Malformed input request');
  return bedrockError(reply.status, 'ValidationException', message);
}

export const invoke: Renderer = (body, ctx): Reply => {
  const reply = asBedrock(messages({ ...body, model: anthropicName(String(body.model)) }, ctx));
  if ('events' in reply || reply.status >= 400) return reply;
  const counts = reply.usage;
  return { ...reply, headers: { 'x-amzn-bedrock-input-token-count': String(counts.input_tokens), 'x-amzn-bedrock-output-token-count': String(counts.output_tokens), 'x-amzn-bedrock-invocation-latency': '42' } };
};

/** Each Anthropic stream event, base64 in a `chunk` frame; the last adds Bedrock's invocation metrics. */
export const invokeStream: Renderer = (body, ctx): Reply => {
  const reply = asBedrock(messages({ ...body, model: anthropicName(String(body.model)), stream: true }, ctx));
  if (!('events' in reply)) return reply;
  const final = reply.events.findLast((event) => event.final === true)?.usage ?? usage(0, 0, 0, 0);
  const metrics = {
    inputTokenCount: final.input_tokens, outputTokenCount: final.output_tokens, invocationLatency: 42, firstByteLatency: 7,
    ...(final.cached_input_tokens > 0 ? { cacheReadInputTokenCount: final.cached_input_tokens } : {}),
    ...(final.cache_write_tokens > 0 ? { cacheWriteInputTokenCount: final.cache_write_tokens } : {}),
  };
  const events = reply.events.map((event, i) => {
    const last = i === reply.events.length - 1;
    const data = last ? JSON.stringify({ ...(JSON.parse(event.data) as Json), 'amazon-bedrock-invocationMetrics': metrics }) : event.data;
    return { ...sse('chunk', { bytes: Buffer.from(data).toString('base64') }), ...(event.usage ? { usage: event.usage } : {}), ...(last ? { usage: final } : {}), ...(event.final ? { final: true } : {}) };
  });
  return eventStream(events);
};

// Event streams -------------------------------------------------------------------------------------------------

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const text = (value: string) => ({ type: 'string' as const, value });

/** An event frame: its :event-type and JSON payload. */
export function eventFrame(event: SseOut): Uint8Array {
  return codec.encode({ headers: { ':event-type': text(event.event ?? ''), ':content-type': text('application/json'), ':message-type': text('event') }, body: fromUtf8(event.data) });
}

/** An exception frame: a stream that fails midway (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html). */
export function exceptionFrame(type: string, message: string): Uint8Array {
  return codec.encode({ headers: { ':exception-type': text(type), ':content-type': text('application/json'), ':message-type': text('exception') }, body: fromUtf8(JSON.stringify({ message })) });
}

function eventStream(events: SseOut[]): StreamReply {
  return { status: 200, events, contentType: 'application/vnd.amazon.eventstream', encode: eventFrame, encodeError: (type, message) => exceptionFrame(type ?? 'modelStreamErrorException', message) };
}

function route(action: string, render: Renderer, streams = false): Route {
  const invoked = action.startsWith('invoke');
  const refuse = (request: FastifyRequest) => unknownModel(request) ?? (invoked ? invokeRefusal(request) : null);
  return { path: `/model/:modelId/${action}`, provider: 'bedrock', render, model: modelParam, refuse, streams };
}

export const BEDROCK_ROUTES: readonly Route[] = [
  route('converse', converse),
  route('converse-stream', converseStream, true),
  route('invoke', invoke),
  route('invoke-with-response-stream', invokeStream, true),
];

/** Bedrock's answer headers: its request id, and nothing naming the account. */
export function bedrockAnswerHeaders(requestId: string): Record<string, string> {
  return { 'x-amzn-requestid': requestId, 'x-amz-apigw-id': 'fakeApiGatewayId=', 'x-amzn-trace-id': 'Root=1-fake' };
}
