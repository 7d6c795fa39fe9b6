import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/program.js';

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

describe('mod-dit eval', () => {
  it('runs a small schedule and writes a report whose numbers the table prints', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mod-dit-eval-'));
    const r = await cli('eval', '--grid', '3x8x10', '--block', '64', '--heads', '2', '--head-dim', '16', '--steps', '16', '--seed', '5', '--out', dir);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    const methods: { method: string; density: number; recall: number }[] = report.summary ?? report.methods;
    expect(Array.isArray(methods)).toBe(true);
    const oracle = methods.find((m) => m.method === 'oracle');
    const mod = methods.find((m) => m.method === 'mod');
    expect(oracle && mod).toBeTruthy();
    // the oracle is the upper bound at the density it is matched to
    expect(oracle!.recall).toBeGreaterThanOrEqual(mod!.recall - 1e-12);
    expect(r.out).toContain('| mod |');
    for (const f of ['summary.md', 'masks.png', 'recall-density.png']) expect(readFileSync(join(dir, f)).length).toBeGreaterThan(0);
  }, 120_000);

  it('rejects a malformed grid with exit code 1 and a message', async () => {
    const r = await cli('eval', '--grid', '3x8', '--out', mkdtempSync(join(tmpdir(), 'mod-dit-eval-')));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/grid/);
  });
});
