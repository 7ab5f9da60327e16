import { describe, expect, it } from 'vitest';
import { importOutcomeLines, parseTimestamp, splitCsv, OutcomeImportError } from '../../../src/analytics/outcome-import.js';
import type { OutcomePointInput } from '../../../src/db/outcomes.js';

const run = async (format: 'csv' | 'jsonl', lines: string[], batchSize = 2) => {
  const batches: OutcomePointInput[][] = [];
  const result = await importOutcomeLines(lines, { format, useCases: new Set(['uc']), source: 'test', batchSize, write: async (b) => { batches.push(b); return { inserted: b.length, updated: 0, unchanged: 0 }; } });
  return { result, batches };
};

describe('importOutcomeLines', () => {
  it('batches valid CSV records and rejects bad ones with their line numbers', async () => {
    const { result, batches } = await run('csv', ['use_case,metric,ts,value,source', 'uc,m,2026-01-01,1', 'uc,m,2026-01-02T00:00:00Z,2.5,crm', '', 'other,m,2026-01-01,1', 'uc,m,2026-01-03,1e5', 'uc,m,2026-01-03 10:00,1', 'uc,m,2026-01-04,-3']);
    expect(batches.map((b) => b.length)).toEqual([2, 1]);
    expect(batches[0]![1]).toEqual({ useCaseId: 'uc', metric: 'm', ts: new Date('2026-01-02T00:00:00Z'), value: '2.5', source: 'crm' });
    expect(result).toMatchObject({ inserted: 3, rejected: 3 });
    expect(result.rejects.map((r) => r.line)).toEqual([5, 6, 7]);
  });

  it('refuses a file without the header', async () => {
    await expect(run('csv', ['ts,value'])).rejects.toBeInstanceOf(OutcomeImportError);
  });

  it('reads JSON lines with numeric or string values', async () => {
    const { result } = await run('jsonl', ['{"use_case":"uc","metric":"m","ts":"2026-01-01","value":0.25}', '[1]', '{"use_case":"uc","metric":"","ts":"2026-01-01","value":"1"}']);
    expect(result).toMatchObject({ inserted: 1, rejected: 2, rejects: [{ line: 2, error: 'not a JSON object' }, { line: 3, error: 'metric is missing' }] });
  });
});

describe('parsing helpers', () => {
  it('splits quoted CSV cells', () => {
    expect(splitCsv('a,"b,c","d ""e"""')).toEqual(['a', 'b,c', 'd "e"']);
  });
  it('needs a zone on timestamps', () => {
    expect(parseTimestamp('2026-01-01T10:00:00')).toBeNull();
    expect(parseTimestamp('2026-01-01T10:00:00+01:00')!.toISOString()).toBe('2026-01-01T09:00:00.000Z');
    expect(parseTimestamp('2026-13-01')).toBeNull();
  });
});
