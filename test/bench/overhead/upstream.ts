/** The fake upstream in a process of its own (the overhead bench's "direct" target): prints its URL, serves until killed. */
import { startFakeUpstream } from '../../../src/demo/fake-upstream.js';

const key = process.env.BENCH_UPSTREAM_KEY ?? 'sk-bench-upstream';
const upstream = await startFakeUpstream({ openaiKey: key, anthropicKey: key, azureKey: key });
// The fake keeps every request for tests to inspect; a bench sends tens of thousands, so it forgets them.
setInterval(() => upstream.reset(), 2000).unref();
console.log(JSON.stringify({ ready: upstream.url }));
process.on('SIGTERM', () => void upstream.close().then(() => process.exit(0)));
