import { formatAmount } from '../budgets/payload.js';
import type { ReportProvider } from './types.js';

/**
 * Finance's notice that a provider's day passed the shadow-spend threshold: Slack-compatible (`text` + `blocks`),
 * with the structured figures under `tollgate`, like tier notifications. Pure: the outbox keeps what it returns.
 */

export type ShadowNoticeInput = {
  noticeId: number; provider: ReportProvider; day: string; reported: string; metered: string; difference: string;
  bypass: string; meteringGap: string; threshold: string; runId: number;
};

const NAMES: Record<ReportProvider, string> = { openai: 'OpenAI', anthropic: 'Anthropic' };
const usd = (v: string) => formatAmount(v, { unit: 'usd', currency: 'USD' }, true);

export function buildShadowPayload(n: ShadowNoticeInput): object {
  const direction = n.difference.startsWith('-') ? 'less than tollgate metered' : 'more than tollgate metered';
  const text = `:mag: Shadow spend — ${NAMES[n.provider]} reports ${usd(n.reported)} for ${n.day}, tollgate metered ${usd(n.metered)}: `
    + `${usd(n.difference.replace(/^-/, ''))} ${direction} (on other API keys: ${usd(n.bypass)}; on tollgate's key: ${usd(n.meteringGap)}).`;
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `threshold ${usd(n.threshold)} · reconciliation run ${n.runId} · to finance` }] },
    ],
    tollgate: {
      kind: 'shadow_spend', notice_id: n.noticeId, provider: n.provider, day: n.day, currency: 'USD',
      reported: n.reported, metered: n.metered, difference: n.difference, bypass: n.bypass, metering_gap: n.meteringGap,
      threshold: n.threshold, run_id: n.runId, recipient: 'finance',
    },
  };
}
