/**
 * The floor the overhead bench measures tollgate against: a bare @fastify/http-proxy that forwards
 * /openai/v1/* to the upstream with the provider key put on, and does nothing else (no auth, tags, policy,
 * budgets or metering). Prints its URL, serves until killed.
 */
import Fastify from 'fastify';
import httpProxy from '@fastify/http-proxy';

const upstream = process.env.BENCH_UPSTREAM_URL!;
const key = process.env.BENCH_UPSTREAM_KEY ?? 'sk-bench-upstream';
const app = Fastify({ logger: false });
await app.register(httpProxy, {
  upstream,
  prefix: '/openai/v1',
  rewritePrefix: '/v1',
  replyOptions: { rewriteRequestHeaders: (_req, headers) => ({ ...headers, authorization: `Bearer ${key}` }) },
});
const address = await app.listen({ port: 0, host: '127.0.0.1' });
console.log(JSON.stringify({ ready: address }));
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
