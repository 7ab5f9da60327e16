import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { RECOMMENDED_SEMI_SPACE_MB, semiSpaceMb } from '../../../src/ops/young-generation.js';

describe('the young generation Node was started with', () => {
  it('reads --max-semi-space-size from the command line, in either spelling and form', () => {
    expect(semiSpaceMb(['--max-semi-space-size=64'], undefined)).toBe(64);
    expect(semiSpaceMb(['--max_semi_space_size', '32'], undefined)).toBe(32);
    expect(semiSpaceMb(['--enable-source-maps', '--max-semi-space-size=16', '--max-semi-space-size=128'], undefined)).toBe(128);
  });

  it('reads NODE_OPTIONS when the command line does not set it, and lets the command line win', () => {
    expect(semiSpaceMb([], '--enable-source-maps  --max-semi-space-size=64')).toBe(64);
    expect(semiSpaceMb(['--max-semi-space-size=32'], '--max-semi-space-size=64')).toBe(32);
  });

  it('is null when nothing sets it, or sets it to something that is not a size', () => {
    expect(semiSpaceMb([], undefined)).toBeNull();
    expect(semiSpaceMb(['--max-old-space-size=4096'], '--max-old-space-size=2048')).toBeNull();
    expect(semiSpaceMb(['--max-semi-space-size='], '')).toBeNull();
    expect(semiSpaceMb(['--max-semi-space-size=lots'], undefined)).toBeNull();
    expect(semiSpaceMb(['--max-semi-space-size'], undefined)).toBeNull();
  });
});

describe('npm start', () => {
  it('starts serve with the young generation serve recommends when started without it', () => {
    const start = (JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } }).scripts.start;
    expect(semiSpaceMb(start.split(' '), undefined)).toBe(RECOMMENDED_SEMI_SPACE_MB);
  });
});
