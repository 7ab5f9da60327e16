import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../../../src/demo/fake-upstream.js';

const AZURE_KEY = 'azure-fake-key';
const GEMINI_KEY = 'gemini-fake-key';

let up: FakeUpstream;

beforeAll(async () => {
  up = await startFakeUpstream({ openaiKey: 'o', anthropicKey: 'a', azureKey: AZURE_KEY, geminiKey: GEMINI_KEY });
});
afterAll(() => up.close());
beforeEach(() => up.reset());

const post = (path: string, headers: Record<string, string>, body: unknown) =>
  fetch(`${up.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

const chat = { messages: [{ role: 'user', content: 'hello there' }] };
const contents = { contents: [{ role: 'user', parts: [{ text: 'hello there' }] }] };

describe("fake upstream, Azure OpenAI's refusals", () => {
  it('a missing api-version is a missing resource; an unknown deployment is DeploymentNotFound; a wrong key is 401', async () => {
    const noVersion = await post('/openai/deployments/gpt-4.1/chat/completions', { 'api-key': AZURE_KEY }, chat);
    expect([noVersion.status, await noVersion.json()]).toEqual([404, { error: { code: '404', message: 'Resource not found' } }]);
    const unknown = await post('/openai/deployments/nope/chat/completions?api-version=2024-10-21', { 'api-key': AZURE_KEY }, chat);
    expect([unknown.status, ((await unknown.json()) as { error: { code: string } }).error.code]).toEqual([404, 'DeploymentNotFound']);
    const wrongKey = await post('/openai/deployments/gpt-4.1/chat/completions?api-version=2024-10-21', { 'api-key': 'nope' }, chat);
    expect(wrongKey.status).toBe(401);
    // An Authorization beside the right key is someone's credential leaking: refused too.
    const leak = await post('/openai/deployments/gpt-4.1/chat/completions?api-version=2024-10-21', { 'api-key': AZURE_KEY, authorization: 'Bearer tg_x' }, chat);
    expect(leak.status).toBe(401);
  });

  it("answers a deployment with its model's name and content filter results", async () => {
    const res = await post('/openai/deployments/marketing-gpt41/chat/completions?api-version=2024-10-21', { 'api-key': AZURE_KEY }, chat);
    const json = (await res.json()) as { model: string; prompt_filter_results: unknown[]; choices: { content_filter_results: unknown }[] };
    expect(json.model).toBe('gpt-4.1-2025-04-14');
    expect(json.prompt_filter_results).toHaveLength(1);
    expect(json.choices[0]?.content_filter_results).toBeDefined();
    expect(up.usageLog[0]).toMatchObject({ provider: 'azure', model: 'marketing-gpt41', status: 200, complete: true });
  });
});

describe("fake upstream, the Gemini API's wire format", () => {
  it('refuses a bad key as Google does (400 API_KEY_INVALID) and an unknown model (404)', async () => {
    const bad = await post('/v1beta/models/gemini-2.5-flash:generateContent', { 'x-goog-api-key': 'nope' }, contents);
    expect([bad.status, await bad.json()]).toEqual([400, { error: expect.objectContaining({ code: 400, status: 'INVALID_ARGUMENT', details: [expect.objectContaining({ reason: 'API_KEY_INVALID' })] }) }]);
    const unknown = await post('/v1beta/models/gemini-0:generateContent', { 'x-goog-api-key': GEMINI_KEY }, contents);
    expect([unknown.status, ((await unknown.json()) as { error: { status: string } }).error.status]).toEqual([404, 'NOT_FOUND']);
  });

  it('streams whole responses with a running usage, the last one finished', async () => {
    const res = await post('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', { 'x-goog-api-key': GEMINI_KEY }, { ...contents, generationConfig: { maxOutputTokens: 4 } });
    const chunks = (await res.text()).split('\n\n').filter((b) => b.startsWith('data: ')).map((b) => JSON.parse(b.slice(6)) as { candidates: { finishReason?: string }[]; usageMetadata: { candidatesTokenCount: number } });
    expect(chunks.map((c) => c.usageMetadata.candidatesTokenCount)).toEqual([1, 2, 3, 4]);
    expect(chunks.map((c) => c.candidates[0]?.finishReason ?? null)).toEqual([null, null, null, 'STOP']);
    expect(up.usageLog[0]).toMatchObject({ provider: 'gemini', stream: true, complete: true, usage: { output_tokens: 4 } });
  });

  it('takes a fault scripted for the path as requested', async () => {
    up.script({ fault: 'error', status: 503, path: '/v1beta/models/gemini-2.5-flash:generateContent' });
    const other = await post('/v1beta/models/gemini-2.5-flash:countTokens', { 'x-goog-api-key': GEMINI_KEY }, contents);
    expect(other.status).toBe(200);
    const failed = await post('/v1beta/models/gemini-2.5-flash:generateContent', { 'x-goog-api-key': GEMINI_KEY }, contents);
    expect([failed.status, ((await failed.json()) as { error: { status: string } }).error.status]).toEqual([503, 'UNAVAILABLE']);
  });
});
