import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import OpenAI, { AzureOpenAI } from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { AnthropicVertex } from '@anthropic-ai/vertex-sdk';
import { OAuth2Client } from 'google-auth-library';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { AnthropicBedrock } from '@anthropic-ai/bedrock-sdk';
import { buildApp } from '../../src/app.js';
import { loadConfig, type ConfigOverrides } from '../../src/config.js';
import { insertAgentKey } from '../../src/db/agent-keys.js';
import { upsertBudget, type BudgetInput, type BudgetRow } from '../../src/db/budgets.js';
import { generateAgentKey } from '../../src/identity/keys.js';
import { startFakeUpstream, type FakeUpstream } from '../../src/demo/fake-upstream.js';
import { entraAuthority, entraSettings } from './entra.js';
import { createTestDb, TEST_DB_KIND, testDatabase, type TestDb } from './db.js';

export const UPSTREAM_OPENAI_KEY = 'sk-upstream-openai-0123456789abcdef';
export const UPSTREAM_ANTHROPIC_KEY = 'sk-ant-upstream-0123456789abcdef';
export const UPSTREAM_AZURE_KEY = 'azure-upstream-0123456789abcdef0123456789';
export const UPSTREAM_GEMINI_KEY = 'AIza-upstream-gemini-0123456789abcdef';
/** The Google Cloud project and location tollgate bills Vertex AI calls to, and the service account it mints tokens as. */
export const VERTEX_PROJECT = 'tollgate-billing';
export const VERTEX_LOCATION = 'us-east5';
export const VERTEX_SERVICE_ACCOUNT = 'tollgate-gateway@tollgate-billing.iam.gserviceaccount.com';
/** What the agents' Vertex clients name in their paths: replaced by tollgate's. */
export const AGENT_VERTEX_PROJECT = 'agent-own-project';
export const AGENT_VERTEX_LOCATION = 'europe-west1';
/** tollgate's AWS credential for Bedrock, the one the fake verifies signatures with. */
export const UPSTREAM_BEDROCK = Object.freeze({ accessKeyId: 'AKIAUPSTREAMBEDROCK01', secretAccessKey: 'upstream-bedrock-secret-0123456789abcdef0123', region: 'us-east-1' });
/** The api-version the Azure tests' client sends (a GA version of Azure OpenAI's data plane). */
export const AZURE_API_VERSION = '2024-10-21';

export type Tags = { bu: string; use_case: string; agent_id: string; session_id: string };

export const PROMO: Tags = { bu: 'marketing', use_case: 'trade-promo-automation', agent_id: 'promo-planner', session_id: 'sess-promo-1' };
export const WRITER: Tags = { bu: 'marketing', use_case: 'digital-marketing', agent_id: 'campaign-writer', session_id: 'sess-writer-1' };
export const FORECASTER: Tags = { bu: 'supply-chain', use_case: 'demand-forecasting', agent_id: 'demand-forecaster', session_id: 'sess-fc-1' };

export function tagHeaders(t: Partial<Tags>): Record<string, string> {
  const h: Record<string, string> = {};
  if (t.bu) h['x-tollgate-bu'] = t.bu;
  if (t.use_case) h['x-tollgate-use-case'] = t.use_case;
  if (t.agent_id) h['x-tollgate-agent-id'] = t.agent_id;
  if (t.session_id) h['x-tollgate-session-id'] = t.session_id;
  return h;
}

export type Gateway = {
  app: FastifyInstance;
  url: string;
  upstream: FakeUpstream;
  dataDir: string;
  /** A fresh agent key for `agentId`. */
  key(agentId: string): Promise<string>;
  openai(key: string, tags: Partial<Tags>, extra?: Record<string, string>): OpenAI;
  anthropic(key: string, tags: Partial<Tags>, extra?: Record<string, string>): Anthropic;
  /** The AzureOpenAI client with endpoint http://HOST/azure; `deployment` pins one (else the call's model names it). */
  azure(key: string, tags: Partial<Tags>, opts?: { deployment?: string; headers?: Record<string, string> }): AzureOpenAI;
  /** @google/genai for the Gemini API with baseUrl http://HOST/gemini (no retries: the SDK's default). */
  gemini(key: string, tags: Partial<Tags>, extra?: Record<string, string>): GoogleGenAI;
  /** @google/genai in Vertex AI mode with baseUrl http://HOST/vertex (API v1), the agent key as its OAuth token. */
  vertexGenai(key: string, tags: Partial<Tags>, extra?: Record<string, string>): GoogleGenAI;
  /** @anthropic-ai/vertex-sdk with baseURL http://HOST/vertex/v1, the agent key as its OAuth token (no retries unless asked). */
  vertexAnthropic(key: string, tags: Partial<Tags>, opts?: { maxRetries?: number; headers?: Record<string, string> }): AnthropicVertex;
  /**
   * The AWS SDK's Bedrock runtime client with endpoint http://HOST/bedrock, the agent key as its bearer token (a
   * Bedrock API key); the SDK's default retries unless `maxAttempts` is given.
   */
  bedrock(key: string, tags: Partial<Tags>, opts?: { maxAttempts?: number; headers?: Record<string, string> }): BedrockRuntimeClient;
  /** AnthropicBedrock with baseURL http://HOST/bedrock and the agent key as its API key (bearer). */
  anthropicBedrock(key: string, tags: Partial<Tags>, opts?: { maxRetries?: number }): AnthropicBedrock;
  /** Lets an agent use these catalog models too (the demo catalog gives no agent a Gemini model), at once. */
  allow(agentId: string, models: readonly string[]): Promise<void>;
  /** Waits until every metered event is in Postgres. */
  flush(): Promise<void>;
  close(): Promise<void>;
};

/**
 * Sets a budget as the CLI and GraphQL do: written, then applied by this replica before the next call. Written
 * straight in the database and not synced, the replica reads it only when Postgres' notification arrives, and
 * a call made at once can be served on the old limit (a lease held on it) or on no budget at all.
 */
export async function setBudget(g: Gateway, b: BudgetInput): Promise<BudgetRow> {
  const { after } = await upsertBudget(g.app.tollgate.db, b);
  await g.app.tollgate.budgetGate.sync();
  return after;
}

/**
 * A real tollgate on a random port, in front of the fake upstream, on the database kind under test. `entra`: the
 * fake has an Entra authority and the gateway reaches Azure with its tokens instead of the key.
 */
export async function startGateway(overrides: ConfigOverrides = {}, opts: { logger?: FastifyServerOptions['logger']; entra?: boolean } = {}): Promise<Gateway> {
  const entra = opts.entra === true ? await entraAuthority() : undefined;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-test-'));
  const serviceAccount = vertexServiceAccount(dataDir);
  const upstream = await startFakeUpstream({
    openaiKey: UPSTREAM_OPENAI_KEY, anthropicKey: UPSTREAM_ANTHROPIC_KEY, azureKey: UPSTREAM_AZURE_KEY, geminiKey: UPSTREAM_GEMINI_KEY,
    vertex: { project: VERTEX_PROJECT, location: VERTEX_LOCATION, clientEmail: VERTEX_SERVICE_ACCOUNT, publicKeyPem: serviceAccount.publicKeyPem },
    bedrock: UPSTREAM_BEDROCK,
    ...(entra === undefined ? {} : { entra }),
  });
  let pg: TestDb | undefined;
  if (TEST_DB_KIND === 'postgres') pg = await createTestDb();
  const config = loadConfig({
    ...(pg ? { DATABASE_URL: pg.url } : { TOLLGATE_PGLITE_DIR: 'memory://' }),
    TOLLGATE_DATA_DIR: dataDir,
    TOLLGATE_OPENAI_BASE_URL: upstream.url,
    TOLLGATE_ANTHROPIC_BASE_URL: upstream.url,
    OPENAI_API_KEY: UPSTREAM_OPENAI_KEY,
    ANTHROPIC_API_KEY: UPSTREAM_ANTHROPIC_KEY,
    TOLLGATE_AZURE_OPENAI_BASE_URL: upstream.url,
    AZURE_OPENAI_API_KEY: UPSTREAM_AZURE_KEY,
    TOLLGATE_GEMINI_BASE_URL: upstream.url,
    GEMINI_API_KEY: UPSTREAM_GEMINI_KEY,
    TOLLGATE_VERTEX_BASE_URL: upstream.url,
    TOLLGATE_VERTEX_PROJECT: VERTEX_PROJECT,
    TOLLGATE_VERTEX_LOCATION: VERTEX_LOCATION,
    TOLLGATE_VERTEX_CREDENTIALS: serviceAccount.file,
    TOLLGATE_VERTEX_TOKEN_URL: `${upstream.url}/token`,
    TOLLGATE_BEDROCK_BASE_URL: upstream.url,
    TOLLGATE_BEDROCK_REGION: UPSTREAM_BEDROCK.region,
    TOLLGATE_BEDROCK_ACCESS_KEY_ID: UPSTREAM_BEDROCK.accessKeyId,
    TOLLGATE_BEDROCK_SECRET_ACCESS_KEY: UPSTREAM_BEDROCK.secretAccessKey,
    TOLLGATE_FLUSH_INTERVAL_MS: 25,
    TOLLGATE_RESERVATION_SWEEP_MS: 100,
    TOLLGATE_KEY_CACHE_MS: 0,
    TOLLGATE_POLICY_WATCH: false,
    LOG_LEVEL: 'silent',
    ...(entra === undefined ? {} : entraSettings(upstream.entra!.url, entra, dataDir)),
    ...overrides,
  });
  const app = await buildApp(config, opts.logger ?? false, await testDatabase(config));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    app,
    url,
    upstream,
    dataDir,
    async key(agentId) {
      const k = generateAgentKey();
      await insertAgentKey(app.tollgate.db, { id: k.id, agentId, hash: k.hash, prefix: k.prefix });
      return k.key;
    },
    openai: (key, tags, extra = {}) =>
      new OpenAI({ apiKey: key, baseURL: `${url}/openai/v1`, maxRetries: 0, defaultHeaders: { ...tagHeaders(tags), ...extra } }),
    anthropic: (key, tags, extra = {}) =>
      new Anthropic({ apiKey: key, baseURL: `${url}/anthropic`, maxRetries: 0, defaultHeaders: { ...tagHeaders(tags), ...extra } }),
    azure: (key, tags, opts = {}) =>
      new AzureOpenAI({
        apiKey: key, endpoint: `${url}/azure`, apiVersion: AZURE_API_VERSION, maxRetries: 0,
        ...(opts.deployment ? { deployment: opts.deployment } : {}), defaultHeaders: { ...tagHeaders(tags), ...opts.headers },
      }),
    gemini: (key, tags, extra = {}) =>
      new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: `${url}/gemini`, headers: { ...tagHeaders(tags), ...extra } } }),
    vertexGenai: (key, tags, extra = {}) =>
      new GoogleGenAI({
        vertexai: true, project: AGENT_VERTEX_PROJECT, location: AGENT_VERTEX_LOCATION, googleAuthOptions: { authClient: agentAuth(key) },
        httpOptions: { baseUrl: `${url}/vertex`, headers: { ...tagHeaders(tags), ...extra } },
      }),
    vertexAnthropic: (key, tags, opts = {}) =>
      new AnthropicVertex({
        baseURL: `${url}/vertex/v1`, projectId: AGENT_VERTEX_PROJECT, region: AGENT_VERTEX_LOCATION, authClient: agentAuth(key),
        maxRetries: opts.maxRetries ?? 0, defaultHeaders: { ...tagHeaders(tags), ...opts.headers },
      }),
    bedrock(key, tags, opts = {}) {
      const client = new BedrockRuntimeClient({
        endpoint: `${url}/bedrock`, region: UPSTREAM_BEDROCK.region, token: { token: key }, authSchemePreference: ['httpBearerAuth'],
        // The client speaks HTTP/2 by default (for its bidirectional stream), which a cleartext HTTP/1.1 gateway does not.
        requestHandler: new NodeHttpHandler(),
        ...(opts.maxAttempts !== undefined ? { maxAttempts: opts.maxAttempts } : {}),
      });
      const headers = { ...tagHeaders(tags), ...opts.headers };
      client.middlewareStack.add((next) => async (args) => {
        Object.assign((args.request as { headers: Record<string, string> }).headers, headers);
        return next(args);
      }, { step: 'build', name: 'tollgateTags' });
      return client;
    },
    anthropicBedrock: (key, tags, opts = {}) =>
      new AnthropicBedrock({ apiKey: key, baseURL: `${url}/bedrock`, awsRegion: UPSTREAM_BEDROCK.region, maxRetries: opts.maxRetries ?? 0, defaultHeaders: tagHeaders(tags) }),
    async allow(agentId, models) {
      await app.tollgate.db('agent_models').insert(models.map((model) => ({ agent_id: agentId, model_id: model }))).onConflict(['agent_id', 'model_id']).ignore();
      await app.tollgate.catalog.refresh();
    },
    flush: () => app.tollgate.meter.flush(),
    async close() {
      await app.close();
      await upstream.close();
      await pg?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The agent's Vertex credential is its tollgate key, given to the SDKs as an OAuth access token (sent as Authorization: Bearer). */
function agentAuth(key: string): OAuth2Client {
  const client = new OAuth2Client();
  client.setCredentials({ access_token: key });
  return client;
}

/** A service account key file for tollgate (a fresh RSA key pair), and the public key the fake verifies its grants with. */
function vertexServiceAccount(dir: string): { file: string; publicKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const file = path.join(dir, 'vertex-service-account.json');
  fs.writeFileSync(file, JSON.stringify({
    type: 'service_account', project_id: VERTEX_PROJECT, private_key_id: 'k1', private_key: privateKey, client_email: VERTEX_SERVICE_ACCOUNT,
    token_uri: 'https://oauth2.googleapis.com/token',
  }), { mode: 0o600 });
  return { file, publicKeyPem: publicKey };
}
