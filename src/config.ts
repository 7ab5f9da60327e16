import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { envSchema } from 'env-schema';
import { Type, type Static } from '@sinclair/typebox';
import type { BoundLimits } from './metering/bound.js';

/**
 * The committed bundle ships beside src/ and dist/ (both one level below the package root), so the default
 * resolves from this file: `npm start` or `npx tollgate serve` work from any working directory.
 */
const DEFAULT_POLICY_BUNDLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../policies/bundle.tar.gz');

/**
 * Anthropic betas an agent may turn on: what Claude Code and the SDKs' tool streaming send, none that changes a
 * price (the 1M-context window bills long prompts higher, the 1-hour cache TTL bills cache writes higher, code
 * execution bills container time) or reaches beyond the request (files, the MCP connector).
 */
const DEFAULT_ANTHROPIC_BETAS = [
  'claude-code-20250219', 'interleaved-thinking-2025-05-14', 'fine-grained-tool-streaming-2025-05-14',
  'token-efficient-tools-2025-02-19', 'context-management-2025-06-27', 'prompt-caching-2024-07-31',
  'output-128k-2025-02-19', 'search-results-2025-06-09',
].join(',');

const OtlpProtocol = Type.Union([Type.Literal('http/protobuf'), Type.Literal('http/json')]);

/** Every setting tollgate reads from the environment; validated once at boot, then frozen. */
const EnvSchema = Type.Object({
  PORT: Type.Integer({ default: 8787, minimum: 0, maximum: 65535 }),
  TOLLGATE_HOST: Type.String({ default: '127.0.0.1' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  DATABASE_URL: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_DATA_DIR: Type.String({ default: '.tollgate' }),
  TOLLGATE_PGLITE_DIR: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_JOURNAL_DIR: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_SEED: Type.Union([Type.Literal('auto'), Type.Literal('never')], { default: 'auto' }),
  TOLLGATE_POLICY_BUNDLE: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_POLICY_WATCH: Type.Boolean({ default: true }),
  TOLLGATE_OPENAI_BASE_URL: Type.String({ default: 'https://api.openai.com', pattern: '^https?://' }),
  TOLLGATE_ANTHROPIC_BASE_URL: Type.String({ default: 'https://api.anthropic.com', pattern: '^https?://' }),
  OPENAI_API_KEY: Type.Optional(Type.String({ minLength: 1 })),
  ANTHROPIC_API_KEY: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_AZURE_OPENAI_BASE_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  AZURE_OPENAI_API_KEY: Type.Optional(Type.String({ minLength: 1 })),
  // Azure with a Microsoft Entra ID token in place of the key: an app registration's tenant, client id and secret.
  TOLLGATE_AZURE_TENANT_ID: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9.-]{1,128}$' })),
  TOLLGATE_AZURE_CLIENT_ID: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_AZURE_CLIENT_SECRET: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_AZURE_AUTHORITY_HOST: Type.String({ default: 'https://login.microsoftonline.com', pattern: '^https://' }),
  TOLLGATE_AZURE_AUTHORITY_CA_FILE: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_GEMINI_BASE_URL: Type.String({ default: 'https://generativelanguage.googleapis.com', pattern: '^https?://' }),
  GEMINI_API_KEY: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_VERTEX_PROJECT: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9-]{4,28}[a-z0-9]$' })),
  TOLLGATE_VERTEX_LOCATION: Type.String({ default: 'global', pattern: '^[a-z0-9-]{1,64}$' }),
  TOLLGATE_VERTEX_BASE_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  TOLLGATE_VERTEX_CREDENTIALS: Type.Optional(Type.String({ minLength: 1 })),
  GOOGLE_APPLICATION_CREDENTIALS: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_VERTEX_TOKEN_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  TOLLGATE_BEDROCK_BASE_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  TOLLGATE_BEDROCK_REGION: Type.Optional(Type.String({ pattern: '^[a-z]{2}(-[a-z]+)+-[0-9]+$' })),
  AWS_REGION: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_BEDROCK_ACCESS_KEY_ID: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_BEDROCK_SECRET_ACCESS_KEY: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_BEDROCK_SESSION_TOKEN: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_BEDROCK_CREDENTIAL_CHAIN: Type.Boolean({ default: false }),
  TOLLGATE_OPENAI_ORGANIZATION: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_OPENAI_PROJECT: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_ANTHROPIC_BETAS: Type.String({ default: DEFAULT_ANTHROPIC_BETAS, pattern: '^(none|[a-z0-9-]+(,[a-z0-9-]+)*)$' }),
  TOLLGATE_JWKS_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  TOLLGATE_JWT_ISSUER: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_JWT_AUDIENCE: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_JWT_AGENT_CLAIM: Type.String({ default: 'tollgate_agent_id', minLength: 1 }),
  TOLLGATE_JWT_MAX_LIFETIME_S: Type.Integer({ default: 86_400, minimum: 60 }),
  TOLLGATE_AUTH_FAILURE_LIMIT: Type.Integer({ default: 20, minimum: 0 }),
  TOLLGATE_AUTH_FAILURE_WINDOW_MS: Type.Integer({ default: 60_000, minimum: 1000 }),
  TOLLGATE_TRUST_PROXY: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_REQUEST_TIMEOUT_MS: Type.Integer({ default: 60_000, minimum: 0 }),
  TOLLGATE_BODY_LIMIT: Type.Integer({ default: 32 * 1024 * 1024, minimum: 1024 }),
  TOLLGATE_UPSTREAM_TIMEOUT_MS: Type.Integer({ default: 600_000, minimum: 1 }),
  TOLLGATE_SHUTDOWN_GRACE_MS: Type.Integer({ default: 30_000, minimum: 0 }),
  TOLLGATE_FLUSH_INTERVAL_MS: Type.Integer({ default: 250, minimum: 1 }),
  TOLLGATE_FLUSH_BATCH: Type.Integer({ default: 1000, minimum: 1 }),
  TOLLGATE_INFLIGHT_GRACE_MS: Type.Integer({ default: 5000, minimum: 0 }),
  TOLLGATE_READY_METER_LAG_MS: Type.Integer({ default: 60_000, minimum: 1000 }),
  TOLLGATE_BOUND_INPUT_ALLOWANCE: Type.Integer({ default: 16_384, minimum: 0 }),
  TOLLGATE_BOUND_STATE_ALLOWANCE: Type.Integer({ default: 8_000_000, minimum: 0 }),
  TOLLGATE_BOUND_OUTPUT_TOKENS: Type.Integer({ default: 131_072, minimum: 1 }),
  TOLLGATE_CATALOG_REFRESH_MS: Type.Integer({ default: 5000, minimum: 50 }),
  TOLLGATE_RESERVATION_TTL_MS: Type.Optional(Type.Integer({ minimum: 1000 })),
  TOLLGATE_RESERVATION_SWEEP_MS: Type.Integer({ default: 10_000, minimum: 50 }),
  TOLLGATE_RESERVATION_POOL: Type.Integer({ default: 4, minimum: 1 }),
  TOLLGATE_BUDGET_LEASE_MS: Type.Optional(Type.Integer({ minimum: 0 })),
  TOLLGATE_BUDGET_LEASE_TTL_MS: Type.Integer({ default: 30_000, minimum: 1000 }),
  TOLLGATE_KEY_CACHE_MS: Type.Integer({ default: 5000, minimum: 0 }),
  TOLLGATE_ROLE: Type.Union([Type.Literal('gateway'), Type.Literal('analytics'), Type.Literal('all')], { default: 'all' }),
  TOLLGATE_ADJACENCY_INTERVAL_MS: Type.Integer({ default: 3_600_000, minimum: 0 }),
  TOLLGATE_REFORECAST_INTERVAL_MS: Type.Integer({ default: 60_000, minimum: 0 }),
  TOLLGATE_ADJACENCY_MIN_WEIGHT: Type.Number({ default: 0.5, minimum: 0, maximum: 1 }),
  TOLLGATE_ADJACENCY_SPEND_PERCENTILE: Type.Number({ default: 75, minimum: 0, maximum: 100 }),
  TOLLGATE_ADJACENCY_BUDGET_SHARE: Type.Number({ default: 0.8, minimum: 0, maximum: 100 }),
  OPENAI_ADMIN_KEY: Type.Optional(Type.String({ minLength: 1 })),
  ANTHROPIC_ADMIN_KEY: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_OPENAI_ADMIN_BASE_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  TOLLGATE_ANTHROPIC_ADMIN_BASE_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  TOLLGATE_OPENAI_REPORT_KEY_ID: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_ANTHROPIC_REPORT_KEY_ID: Type.Optional(Type.String({ minLength: 1 })),
  TOLLGATE_RECONCILE_INTERVAL_MS: Type.Integer({ default: 86_400_000, minimum: 0 }),
  TOLLGATE_RECONCILE_LOOKBACK_DAYS: Type.Integer({ default: 3, minimum: 1, maximum: 31 }),
  TOLLGATE_SHADOW_SPEND_THRESHOLD: Type.String({ default: '100', pattern: '^\\d+(\\.\\d+)?$' }),
  TOLLGATE_SHADOW_SPEND_WEBHOOK_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  // OpenTelemetry's own names (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/),
  // so that a platform's usual settings turn traces on; only the HTTP protocols are shipped (no gRPC).
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://' })),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://' })),
  OTEL_EXPORTER_OTLP_PROTOCOL: Type.Optional(OtlpProtocol),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: Type.Optional(OtlpProtocol),
  OTEL_SERVICE_NAME: Type.String({ default: 'tollgate', minLength: 1 }),
  OTEL_SDK_DISABLED: Type.Boolean({ default: false }),
});

type Env = Static<typeof EnvSchema>;

export type Config = Readonly<{
  port: number;
  host: string;
  logLevel: string;
  database: Readonly<{ kind: 'postgres'; url: string } | { kind: 'pglite'; dataDir: string }>;
  dataDir: string;
  journalDir: string;
  seed: 'auto' | 'never';
  policy: Readonly<{ bundlePath: string; watch: boolean }>;
  providers: Readonly<Record<ProviderName, ProviderSettings>>;
  jwt: Readonly<{ jwksUrl?: string; issuer?: string; audience?: string; agentClaim: string; maxLifetimeS: number }>;
  /** Failed authentications a source address may have per window before unknown credentials are refused (0: no limit). */
  authFailures: Readonly<{ limit: number; windowMs: number }>;
  /** Reverse proxies whose X-Forwarded-For names the caller (Fastify's trustProxy), when set. */
  trustProxy?: string;
  /** Longest time to receive a whole request, headers and body (0: none); the answer is not bound by it. */
  requestTimeoutMs: number;
  bodyLimit: number;
  upstreamTimeoutMs: number;
  shutdownGraceMs: number;
  /** How long a reservation lives if its call never reports back (its replica died). */
  reservationTtlMs: number;
  /** Connections of the reservation pool (Postgres only). */
  reservationPool: number;
  /** Budget leases: how often a replica settles them (0: no leases, every call reserves in Postgres) and how long one outlives its replica. */
  budgetLeases: Readonly<{ settleMs: number; ttlMs: number }>;
  flush: Readonly<{ intervalMs: number; batch: number; inflightGraceMs: number }>;
  /** /readyz fails its meter check when the oldest record not yet written to Postgres is older than this. */
  readyMeterLagMs: number;
  /** What a call can be billed at most (src/metering/bound.ts): tokens beyond its body's bytes, and output per answer when it sets no limit. */
  bound: Readonly<BoundLimits>;
  /** What this process serves: the gateway routes, the analytics API (GraphQL, reports), or both. */
  role: 'gateway' | 'analytics' | 'all';
  refresh: Readonly<{ catalogMs: number; reservationSweepMs: number; keyCacheMs: number }>;
  /** How often price changes whose time has come re-forecast budgets (0: only at import). */
  reforecastIntervalMs: number;
  /** The council's adjacency analysis: how often the analytics role runs it (0: never) and when it alerts. */
  adjacency: Readonly<{ intervalMs: number; alerts: Readonly<{ minWeight: number; spendPercentile: number; budgetShare: number }> }>;
  /** Shadow spend: the providers' usage and cost reports pulled with admin keys and reconciled with the ledger. */
  reconcile: Readonly<{
    providers: Readonly<Record<ReportProvider, Readonly<{ baseUrl: string; adminKey?: string; tollgateKeyId?: string }>>>;
    /** How often the analytics role pulls the reports (0: never), and how many complete UTC days back. */
    intervalMs: number;
    lookbackDays: number;
    /** A provider's day whose |reported − metered| reaches this (USD) is sent to finance, once. */
    threshold: string;
    webhookUrl?: string;
  }>;
  /** One span per call, exported over OTLP/HTTP; null (no tracing code loaded) unless an endpoint is set. */
  traces: TracesSettings | null;
}>;

export type TracesSettings = Readonly<{ url: string; protocol: 'http/protobuf' | 'http/json'; serviceName: string }>;

export type ReportProvider = 'openai' | 'anthropic';

/** The vendors tollgate routes to (src/providers/registry.ts), each with its settings. */
export type ProviderName = 'openai' | 'anthropic' | 'azure' | 'gemini' | 'vertex' | 'bedrock';

/** One provider's upstream: where, tollgate's key, and what tollgate (never the agent) chooses for the account. */
export type ProviderSettings = Readonly<{
  /** '' when not set (Azure, which has no default host): the vendor's routes then refuse with provider_not_configured. */
  baseUrl: string;
  apiKey?: string;
  /** OpenAI: the organization and project billed; Vertex AI: the Google Cloud project billed. */
  organization?: string;
  project?: string;
  /** Vertex AI: the location (region, or `global`) tollgate calls, whatever location the agent's path names. */
  location?: string;
  /** Vertex AI: the service account key file tollgate mints its OAuth tokens from, and a token endpoint other than Google's. */
  credentialsFile?: string;
  tokenUrl?: string;
  /** Anthropic: the betas an agent may turn on with anthropic-beta. */
  betas?: readonly string[];
  /** Bedrock: the region signed for, and tollgate's own AWS credential (no key: the vendor is not configured). */
  /** Bedrock: the region signed for, and tollgate's key; or, with `chain`, the AWS SDK's default provider chain. */
  aws?: Readonly<{ region: string; accessKeyId?: string; secretAccessKey?: string; sessionToken?: string; chain?: boolean }>;
  /** Azure: tollgate's Microsoft Entra ID app, whose tokens stand in for the key (unused when a key is set). */
  entra?: EntraSettings;
}>;

/**
 * A Microsoft Entra ID app registration (client credentials) and where its tokens come from: the authority host
 * (a sovereign or private cloud's own), and the CAs it is trusted by beyond the public ones, as PEM.
 */
export type EntraSettings = Readonly<{ tenantId: string; clientId: string; clientSecret: string; authorityHost: string; authorityCa?: string }>;

/** Anything set here wins over the environment (tests and the demo use it). */
export type ConfigOverrides = Partial<Record<keyof Env, string | number | boolean | undefined>>;

export function loadConfig(overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const data = { ...pickDefined(env), ...pickDefined(overrides) };
  const e = envSchema<Env>({ schema: EnvSchema, data, dotenv: false, env: false });
  if (e.TOLLGATE_JWKS_URL && (!e.TOLLGATE_JWT_ISSUER || !e.TOLLGATE_JWT_AUDIENCE)) {
    // Without both, any token the broker signs for any other service would be accepted here.
    throw new Error('env/TOLLGATE_JWKS_URL needs TOLLGATE_JWT_ISSUER and TOLLGATE_JWT_AUDIENCE to be set too');
  }
  const dataDir = path.resolve(e.TOLLGATE_DATA_DIR);
  return deepFreeze({
    port: e.PORT,
    host: e.TOLLGATE_HOST,
    logLevel: e.LOG_LEVEL,
    database: e.DATABASE_URL
      ? { kind: 'postgres', url: e.DATABASE_URL }
      : { kind: 'pglite', dataDir: pgliteDir(e.TOLLGATE_PGLITE_DIR, dataDir) },
    dataDir,
    journalDir: path.resolve(e.TOLLGATE_JOURNAL_DIR ?? path.join(dataDir, 'journal')),
    seed: e.TOLLGATE_SEED,
    policy: { bundlePath: e.TOLLGATE_POLICY_BUNDLE ? path.resolve(e.TOLLGATE_POLICY_BUNDLE) : DEFAULT_POLICY_BUNDLE, watch: e.TOLLGATE_POLICY_WATCH },
    providers: {
      openai: { baseUrl: e.TOLLGATE_OPENAI_BASE_URL, apiKey: e.OPENAI_API_KEY, organization: e.TOLLGATE_OPENAI_ORGANIZATION, project: e.TOLLGATE_OPENAI_PROJECT },
      anthropic: { baseUrl: e.TOLLGATE_ANTHROPIC_BASE_URL, apiKey: e.ANTHROPIC_API_KEY, betas: e.TOLLGATE_ANTHROPIC_BETAS === 'none' ? [] : e.TOLLGATE_ANTHROPIC_BETAS.split(',') },
      // Azure has no public host: each resource has its own (https://RESOURCE.openai.azure.com); unset, /azure refuses.
      azure: { baseUrl: e.TOLLGATE_AZURE_OPENAI_BASE_URL ?? '', apiKey: e.AZURE_OPENAI_API_KEY, entra: entraSettings(e) },
      gemini: { baseUrl: e.TOLLGATE_GEMINI_BASE_URL, apiKey: e.GEMINI_API_KEY },
      vertex: vertexSettings(e),
      bedrock: bedrockSettings(e),
    },
    jwt: {
      jwksUrl: e.TOLLGATE_JWKS_URL,
      issuer: e.TOLLGATE_JWT_ISSUER,
      audience: e.TOLLGATE_JWT_AUDIENCE,
      agentClaim: e.TOLLGATE_JWT_AGENT_CLAIM,
      maxLifetimeS: e.TOLLGATE_JWT_MAX_LIFETIME_S,
    },
    authFailures: { limit: e.TOLLGATE_AUTH_FAILURE_LIMIT, windowMs: e.TOLLGATE_AUTH_FAILURE_WINDOW_MS },
    trustProxy: e.TOLLGATE_TRUST_PROXY,
    requestTimeoutMs: e.TOLLGATE_REQUEST_TIMEOUT_MS,
    bodyLimit: e.TOLLGATE_BODY_LIMIT,
    upstreamTimeoutMs: e.TOLLGATE_UPSTREAM_TIMEOUT_MS,
    shutdownGraceMs: e.TOLLGATE_SHUTDOWN_GRACE_MS,
    reservationTtlMs: e.TOLLGATE_RESERVATION_TTL_MS ?? 2 * e.TOLLGATE_UPSTREAM_TIMEOUT_MS + 60_000,
    reservationPool: e.TOLLGATE_RESERVATION_POOL,
    // Leases save replicas a round trip per call; the embedded database is one process, where a reservation is
    // in-process and a budget changed through the CLI's socket must apply to the next call.
    budgetLeases: { settleMs: e.TOLLGATE_BUDGET_LEASE_MS ?? (e.DATABASE_URL ? 1000 : 0), ttlMs: e.TOLLGATE_BUDGET_LEASE_TTL_MS },
    flush: { intervalMs: e.TOLLGATE_FLUSH_INTERVAL_MS, batch: e.TOLLGATE_FLUSH_BATCH, inflightGraceMs: e.TOLLGATE_INFLIGHT_GRACE_MS },
    readyMeterLagMs: e.TOLLGATE_READY_METER_LAG_MS,
    bound: {
      inputAllowance: e.TOLLGATE_BOUND_INPUT_ALLOWANCE,
      stateAllowance: e.TOLLGATE_BOUND_STATE_ALLOWANCE,
      outputUnset: e.TOLLGATE_BOUND_OUTPUT_TOKENS,
    },
    role: e.TOLLGATE_ROLE,
    refresh: {
      catalogMs: e.TOLLGATE_CATALOG_REFRESH_MS,
      reservationSweepMs: e.TOLLGATE_RESERVATION_SWEEP_MS,
      keyCacheMs: e.TOLLGATE_KEY_CACHE_MS,
    },
    reforecastIntervalMs: e.TOLLGATE_REFORECAST_INTERVAL_MS,
    adjacency: {
      intervalMs: e.TOLLGATE_ADJACENCY_INTERVAL_MS,
      alerts: { minWeight: e.TOLLGATE_ADJACENCY_MIN_WEIGHT, spendPercentile: e.TOLLGATE_ADJACENCY_SPEND_PERCENTILE, budgetShare: e.TOLLGATE_ADJACENCY_BUDGET_SHARE },
    },
    reconcile: {
      providers: {
        openai: { baseUrl: e.TOLLGATE_OPENAI_ADMIN_BASE_URL ?? e.TOLLGATE_OPENAI_BASE_URL, adminKey: e.OPENAI_ADMIN_KEY, tollgateKeyId: e.TOLLGATE_OPENAI_REPORT_KEY_ID },
        anthropic: { baseUrl: e.TOLLGATE_ANTHROPIC_ADMIN_BASE_URL ?? e.TOLLGATE_ANTHROPIC_BASE_URL, adminKey: e.ANTHROPIC_ADMIN_KEY, tollgateKeyId: e.TOLLGATE_ANTHROPIC_REPORT_KEY_ID },
      },
      intervalMs: e.TOLLGATE_RECONCILE_INTERVAL_MS,
      lookbackDays: e.TOLLGATE_RECONCILE_LOOKBACK_DAYS,
      threshold: e.TOLLGATE_SHADOW_SPEND_THRESHOLD,
      webhookUrl: e.TOLLGATE_SHADOW_SPEND_WEBHOOK_URL,
    },
    traces: tracesSettings(e),
  } satisfies Config);
}

/** Vertex AI's multi-region locations, served from their own regional endpoints (`aiplatform.us.rep…`). */
const VERTEX_MULTI_REGIONS = new Set(['us', 'eu']);

/**
 * Vertex AI's host is per location (https://cloud.google.com/vertex-ai/docs/general/locations); the global endpoint
 * has none in its name, a multi-region its own. The key file: tollgate's own, else Application Default Credentials'.
 */
function vertexSettings(e: Env): ProviderSettings {
  const location = e.TOLLGATE_VERTEX_LOCATION;
  const host = location === 'global' ? 'https://aiplatform.googleapis.com'
    : VERTEX_MULTI_REGIONS.has(location) ? `https://aiplatform.${location}.rep.googleapis.com`
    : `https://${location}-aiplatform.googleapis.com`;
  return {
    baseUrl: e.TOLLGATE_VERTEX_BASE_URL ?? host,
    project: e.TOLLGATE_VERTEX_PROJECT,
    location,
    credentialsFile: e.TOLLGATE_VERTEX_CREDENTIALS ?? e.GOOGLE_APPLICATION_CREDENTIALS,
    tokenUrl: e.TOLLGATE_VERTEX_TOKEN_URL,
  };
}

/**
 * Bedrock's runtime host is per region (https://docs.aws.amazon.com/general/latest/gr/bedrock.html); the region is
 * TOLLGATE_BEDROCK_REGION, else AWS_REGION, else us-east-1. A key id without its secret (or the reverse) is a
 * configuration mistake, not a vendor left unconfigured.
 */
function bedrockSettings(e: Env): ProviderSettings {
  const region = e.TOLLGATE_BEDROCK_REGION ?? e.AWS_REGION ?? 'us-east-1';
  if (Boolean(e.TOLLGATE_BEDROCK_ACCESS_KEY_ID) !== Boolean(e.TOLLGATE_BEDROCK_SECRET_ACCESS_KEY)) {
    throw new Error('env/TOLLGATE_BEDROCK_ACCESS_KEY_ID and env/TOLLGATE_BEDROCK_SECRET_ACCESS_KEY must be set together');
  }
  return {
    baseUrl: e.TOLLGATE_BEDROCK_BASE_URL ?? `https://bedrock-runtime.${region}.amazonaws.com`,
    aws: {
      region,
      accessKeyId: e.TOLLGATE_BEDROCK_ACCESS_KEY_ID,
      secretAccessKey: e.TOLLGATE_BEDROCK_SECRET_ACCESS_KEY,
      sessionToken: e.TOLLGATE_BEDROCK_SESSION_TOKEN,
      chain: e.TOLLGATE_BEDROCK_CREDENTIAL_CHAIN,
    },
  };
}

/**
 * The traces endpoint as OpenTelemetry's exporters read it: the signal's own URL as given, or the base endpoint
 * with `/v1/traces` appended. Protocol: http/protobuf unless set (the specification's default).
 */
function tracesSettings(e: Env): TracesSettings | null {
  if (e.OTEL_SDK_DISABLED) return null;
  const base = e.OTEL_EXPORTER_OTLP_ENDPOINT;
  const url = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (base === undefined ? undefined : `${base.replace(/\/+$/, '')}/v1/traces`);
  if (url === undefined) return null;
  const protocol = e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  return { url, protocol, serviceName: e.OTEL_SERVICE_NAME };
}

const ENTRA_SETTINGS = ['TOLLGATE_AZURE_TENANT_ID', 'TOLLGATE_AZURE_CLIENT_ID', 'TOLLGATE_AZURE_CLIENT_SECRET'] as const;

/** Azure's Entra app: all three of tenant, client id and secret, or none (then the key, if any, is used). */
function entraSettings(e: Env): EntraSettings | undefined {
  const missing = ENTRA_SETTINGS.filter((name) => e[name] === undefined);
  if (missing.length === ENTRA_SETTINGS.length) return undefined;
  if (missing.length > 0) throw new Error(`env/${missing[0]} is required when ${ENTRA_SETTINGS.filter((n) => !missing.includes(n)).join(', ')} is set`);
  const caFile = e.TOLLGATE_AZURE_AUTHORITY_CA_FILE;
  return {
    tenantId: e.TOLLGATE_AZURE_TENANT_ID!, clientId: e.TOLLGATE_AZURE_CLIENT_ID!, clientSecret: e.TOLLGATE_AZURE_CLIENT_SECRET!,
    authorityHost: e.TOLLGATE_AZURE_AUTHORITY_HOST,
    ...(caFile === undefined ? {} : { authorityCa: readCaFile(caFile) }),
  };
}

function readCaFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`env/TOLLGATE_AZURE_AUTHORITY_CA_FILE cannot be read: ${(err as Error).message}`);
  }
}

/** `memory://` keeps PGlite in memory (tests, throwaway demos); anything else is a directory. */
function pgliteDir(setting: string | undefined, dataDir: string): string {
  if (setting === 'memory://') return setting;
  return setting ? path.resolve(setting) : path.join(dataDir, 'pgdata');
}

function pickDefined(src: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(src).filter(([, v]) => v !== undefined && v !== ''));
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
