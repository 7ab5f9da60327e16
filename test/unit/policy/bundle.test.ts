import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBundle, readBundle } from '../../../src/policy/bundle.js';
import { BUNDLE, POLICY_DIR, pack, unpack } from './support.js';

describe('readBundle', () => {
  it('reads the committed bundle: wasm, data and revision', async () => {
    const bundle = await readBundle(BUNDLE);
    expect(bundle.wasm.subarray(0, 4)).toEqual(Buffer.from([0, 0x61, 0x73, 0x6d]));
    expect(bundle.data).toEqual({ config: JSON.parse(readFileSync(`${POLICY_DIR}/config/data.json`, 'utf8')) });
    expect(bundle.revision).toMatch(/^[0-9a-f]{12}$/);
  });

  it('ships no tests and no fixtures', async () => {
    const names = [...(await unpack(readFileSync(BUNDLE))).keys()];
    expect(names).toContain('policy.wasm');
    expect(names.filter((name) => name.endsWith('_test.rego') || name.includes('fixtures'))).toEqual([]);
    expect(Object.keys((await readBundle(BUNDLE)).data as object)).toEqual(['config']);
  });

  it('accepts ./-prefixed entry names from other tar tools', async () => {
    const files = await unpack(readFileSync(BUNDLE));
    for (const prefix of ['./', '']) {
      expect((await parseBundle(await pack(files, prefix))).revision).toBe((await readBundle(BUNDLE)).revision);
    }
  });

  it('names the file it cannot read', async () => {
    await expect(readBundle('/nonexistent/bundle.tar.gz')).rejects.toThrow(/policy bundle \/nonexistent\/bundle\.tar\.gz cannot be read/);
  });

  it('names the file that is corrupt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-bundle-'));
    try {
      writeFileSync(join(dir, 'b.tar.gz'), 'not gzip');
      await expect(readBundle(join(dir, 'b.tar.gz'))).rejects.toThrow(`${join(dir, 'b.tar.gz')} is not a valid .tar.gz`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
