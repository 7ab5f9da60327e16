import { asObject, isBadCount, parseJson, reportedCounts, stringField, tokenCount } from '../json.js';
import { ZERO_USAGE, type NormalizedUsage, type StreamUsageReader } from '../types.js';
import { ToolNames } from '../tools.js';
import { addCandidateCalls } from './tools.js';

/**
 * usageMetadata (https://ai.google.dev/api/generate-content#UsageMetadata): promptTokenCount includes the cached
 * part (cachedContentTokenCount), so input = prompt − cached, plus toolUsePromptTokenCount (the results of
 * built-in tools, billed as input); output = candidatesTokenCount + thoughtsTokenCount (thinking is billed as
 * output). Gemini reports no cache writes: context caching bills storage by the hour, outside the call.
 */
const COUNTS = ['promptTokenCount', 'candidatesTokenCount', 'cachedContentTokenCount', 'thoughtsTokenCount', 'toolUsePromptTokenCount'] as const;

export function readUsage(metadata: unknown): { usage: NormalizedUsage } | { bad: Record<string, unknown> } | null {
  const counts = asObject(metadata);
  if (counts === undefined) return null;
  const raw = Object.fromEntries(COUNTS.map((key) => [key, counts[key]]));
  if (Object.values(raw).some(isBadCount)) return { bad: reportedCounts(raw) };
  const [prompt, candidates, cached, thoughts, toolUse] = COUNTS.map((key) => tokenCount(counts[key]) ?? 0) as [number, number, number, number, number];
  if (counts.promptTokenCount === undefined && counts.candidatesTokenCount === undefined) return null;
  const cachedPart = Math.min(prompt, cached);
  return {
    usage: { input_tokens: prompt - cachedPart + toolUse, cached_input_tokens: cachedPart, cache_write_tokens: 0, output_tokens: candidates + thoughts },
  };
}

export function usageFromBody(endpoint: string, body: unknown): NormalizedUsage | null {
  // countTokens is free: its totalTokens answers the question, it is not consumed.
  if (endpoint === ':countTokens') return { ...ZERO_USAGE };
  const read = readUsage(asObject(body)?.usageMetadata);
  return read !== null && 'usage' in read ? read.usage : null;
}

export function badUsage(endpoint: string, body: unknown): Record<string, unknown> | undefined {
  if (endpoint === ':countTokens') return undefined;
  const read = readUsage(asObject(body)?.usageMetadata);
  return read !== null && 'bad' in read ? read.bad : undefined;
}

/** The model version that served the call (gemini-2.5-flash, or a dated one). */
export function modelFromBody(body: unknown): string | undefined {
  return stringField(body, 'modelVersion');
}

type ReaderState = { usage: NormalizedUsage; complete: boolean; servedModel?: string; deltas: number; invalidUsage?: Record<string, unknown> };

/**
 * Every chunk of a Gemini stream is a whole GenerateContentResponse, its usageMetadata the running total; the
 * chunk whose candidate has a finishReason carries the final one. Chunks are small, so each is parsed.
 */
export function streamReader(_endpoint: string): StreamUsageReader {
  const state: ReaderState = { usage: { ...ZERO_USAGE }, complete: false, deltas: 0 };
  const tools = new ToolNames();
  return {
    push(_event, data) {
      const chunk = asObject(parseJson(data));
      if (chunk === undefined) return;
      state.servedModel ??= stringField(chunk, 'modelVersion');
      const candidates = Array.isArray(chunk.candidates) ? chunk.candidates : [];
      state.deltas += candidates.reduce((n: number, c) => n + partCount(c), 0);
      addCandidateCalls(tools, candidates);
      const read = readUsage(chunk.usageMetadata);
      if (read === null) return;
      if ('bad' in read) state.invalidUsage = read.bad;
      else Object.assign(state, { usage: read.usage, complete: state.complete || candidates.some(isFinished) });
    },
    result: () => ({ ...state, usage: { ...state.usage } }),
    tools: () => tools.sorted(),
  };
}

function partCount(candidate: unknown): number {
  const parts = asObject(asObject(candidate)?.content)?.parts;
  return Array.isArray(parts) ? parts.length : 0;
}

function isFinished(candidate: unknown): boolean {
  return typeof asObject(candidate)?.finishReason === 'string';
}

/** Gemini reports usage unasked: tollgate never adds a request for it. */
export function isInjectedUsageEvent(): boolean {
  return false;
}
