/**
 * tsx test/bench/traces.ts — what traces cost per call: the same gateway code with traces off (no OTLP endpoint)
 * and on (exporting every span as OTLP/JSON to a local receiver), in one process, rounds alternating so that the
 * machine's noise falls on both alike. Per mode: the median over rounds of calls per second and of the process's
 * CPU µs per call (client, gateway, embedded database and fake upstream alike: the difference is the traces').
 * Then, alone: the check a call makes when traces are off (ns), and a span's CPU when on (start, end, batch,
 * encode and post to the receiver; µs per span), without the rest of a call's noise around it.
 * BENCH_TRACES_ROUNDS (default 6) × BENCH_TRACES_CALLS (default 1,000) at BENCH_TRACES_CONCURRENCY (default 8).
 */
import { Agent, request } from 'undici';
import { startGateway, tagHeaders, PROMO, type Gateway } from '../helpers/gateway.js';
import { startOtlpReceiver } from '../helpers/otlp-receiver.js';
import type { CallTracer } from '../../src/ops/traces.js';
import { createOtelTracer } from '../../src/ops/otel.js';
import { openai } from '../../src/providers/openai/index.js';
import type { AllowedCall } from '../../src/gateway/call.js';
import type { UsageEvent } from '../../src/metering/types.js';
import { ZERO_USAGE } from '../../src/providers/types.js';

const ROUNDS = Number(process.env.BENCH_TRACES_ROUNDS ?? 6);
const CALLS = Number(process.env.BENCH_TRACES_CALLS ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_TRACES_CONCURRENCY ?? 8);
const BODY = JSON.stringify({ model: 'gpt-4.1-mini', max_tokens: 16, messages: [{ role: 'user', content: 'benchmark prompt of a typical short length for an agent step' }] });

type Mode = { name: string; gw: Gateway; key: string; rps: number[]; cpuUs: number[] };

async function main() {
  const receiver = await startOtlpReceiver();
  const modes: Mode[] = [];
  for (const [name, env] of [['off', {}], ['on', { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }]] as const) {
    const gw = await startGateway(env);
    modes.push({ name, gw, key: await gw.key('promo-planner'), rps: [], cpuUs: [] });
  }
  const agent = new Agent({ connections: CONCURRENCY });
  try {
    for (const mode of modes) await round(mode, agent, 200, false);
    for (let r = 0; r < ROUNDS; r++) {
      for (const mode of r % 2 === 0 ? modes : [...modes].reverse()) await round(mode, agent, CALLS, true);
    }
    console.log(`traces bench: ${ROUNDS} rounds × ${CALLS} calls per mode, ${CONCURRENCY} connections, node ${process.version}`);
    for (const m of modes) console.log(`  ${m.name.padEnd(4)} ${median(m.rps).toFixed(0).padStart(6)} calls/s   ${median(m.cpuUs).toFixed(0).padStart(5)} µs CPU per call`);
    const [off, on] = modes as [Mode, Mode];
    console.log(`  on / off: CPU per call × ${(median(on.cpuUs) / median(off.cpuUs)).toFixed(3)}, calls/s × ${(median(on.rps) / median(off.rps)).toFixed(3)}`);
    console.log(`  spans received: ${receiver.spans().length}`);
    console.log(`  the check a call makes with traces off: ${offCheckNs(off.gw.app.tollgate.tracer).toFixed(2)} ns`);
    console.log(`  one span with traces on, alone: ${(await spanCpuUs(receiver.url)).toFixed(1)} µs CPU`);
  } finally {
    await agent.close();
    for (const m of modes) await m.gw.close();
    await receiver.close();
  }
}

async function round(mode: Mode, agent: Agent, calls: number, keep: boolean) {
  let next = 0;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < calls) {
      const i = next++;
      const res = await request(`${mode.gw.url}/openai/v1/chat/completions`, {
        method: 'POST', dispatcher: agent, body: BODY,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${mode.key}`, ...tagHeaders({ ...PROMO, session_id: `bench-${mode.name}-${Math.floor(i / 20)}` }) },
      });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`${mode.name}: status ${res.statusCode}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await mode.gw.app.tollgate.tracer?.flush();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  if (!keep) return;
  mode.rps.push(calls / seconds);
  mode.cpuUs.push((used.user + used.system) / calls);
}

/** The one thing a call does for traces when they are off: read the tracer and find it null. */
function offCheckNs(tracer: CallTracer | null): number {
  const holder = { tracer };
  let spans = 0;
  const n = 50_000_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (holder.tracer !== null) spans++;
  const ns = Number(process.hrtime.bigint() - t0) / n;
  if (spans !== 0) throw new Error('traces were on');
  return ns;
}

/** CPU per span: started, ended, batched, encoded as OTLP/JSON and posted (the receiver keeps the bytes). */
async function spanCpuUs(receiverUrl: string): Promise<number> {
  const tracer = await createOtelTracer({ url: `${receiverUrl}/v1/traces`, protocol: 'http/json', serviceName: 'bench' }, { warn: () => {} });
  const call = {
    requestId: 'req', adapter: openai, endpoint: '/chat/completions', ts: new Date(), startedAt: 0n,
    tags: { bu: PROMO.bu, use_case: PROMO.use_case, agent_id: PROMO.agent_id, session_id: PROMO.session_id }, parentRequestId: null,
    decision: { code: 'ok', tier: 'none', max_output_tokens: null }, revision: 'rev', modelRequested: 'gpt-4.1-mini', modelServed: 'gpt-4.1-mini',
    choices: 1, outputLimit: 16,
  } as unknown as AllowedCall;
  const event = { ...ZERO_USAGE, input_tokens: 20, output_tokens: 16, cost: '0.0000336', currency: 'USD', partial: false } as UsageEvent;
  const headers = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
  const n = 20_000;
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    tracer.startCall(call, headers).end({ status: 200, usage: event, partial: false }, event);
    // The batch processor exports every 512 spans; let its posts go out as they would between calls.
    if (i % 512 === 511) await tracer.flush();
  }
  await tracer.shutdown();
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
