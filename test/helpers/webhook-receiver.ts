import { setTimeout as sleep } from 'node:timers/promises';
import { startWebhookReceiver, type Received, type WebhookReceiver } from './webhook.js';

/**
 * The local webhook receiver (127.0.0.1:0, records every POSTed JSON body) is test/helpers/webhook.ts;
 * this adds what the budget tests ask of it: tier notifications per target path.
 */
export { startWebhookReceiver, type Received, type WebhookReceiver };

export type TierNotice = { path: string; tier: string; recipient: string; budgetId: number; eventId: number };

/** Every tollgate tier notification received, in arrival order. */
export function tierNotices(receiver: WebhookReceiver): TierNotice[] {
  return receiver.received.map((r) => {
    const t = (r.body as { tollgate?: { tier: string; recipient: string; budget: { id: number }; event_id: number } }).tollgate;
    return { path: r.path, tier: t?.tier ?? '?', recipient: t?.recipient ?? '?', budgetId: t?.budget.id ?? -1, eventId: t?.event_id ?? -1 };
  });
}

/** Waits (bounded) until at least `n` requests arrived, then `settleMs` more so that extra ones would show. */
export async function waitForReceived(receiver: WebhookReceiver, n: number, timeoutMs: number, settleMs = 0): Promise<Received[]> {
  const deadline = Date.now() + timeoutMs;
  while (receiver.received.length < n && Date.now() < deadline) await sleep(50);
  if (settleMs > 0) await sleep(settleMs);
  return receiver.received;
}
