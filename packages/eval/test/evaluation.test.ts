import { stepKind } from '@mod-dit/scheduler';
import { describe, expect, it } from 'vitest';
import { EvalConfigError, type EvalOptions, runEvaluation, stepTable, summaryTable } from '../src/index.js';

// 3 x 8 x 16 = 384 video tokens = 6 blocks of 64 (2 per frame), 5 text tokens, 2 layers x 2 branches
const options: EvalOptions = {
  suite: { grid: [3, 8, 16], textTokens: 5, blockSize: 64, heads: 2, headDim: 14, layers: 2, branches: 2, steps: 14, seed: 5, kinds: ['spatial', 'temporal'] },
  warmup: 4,
  interval: 3,
  curveEvery: 2,
  svgSampleRows: 8,
};

describe('runEvaluation', async () => {
  const { report, heatmaps } = await runEvaluation(options);
  const evaluated = report.calls.filter((c) => c.methods);

  it('follows the schedule for every step, layer and branch', () => {
    expect(report.calls).toHaveLength(14 * 2 * 2);
    for (const c of report.calls) expect(c.kind).toBe(stepKind({ warmup: 4, interval: 3, denseLayers: 0 }, c.step, c.layer));
    // m = 4, T = 3: maps at 2, 3 and the refreshes 6, 9, 12; the other steps from 4 on are sparse and evaluated
    expect([...new Set(evaluated.map((c) => c.step))]).toEqual([4, 5, 7, 8, 10, 11, 13]);
    expect(report.timings.mapCalls).toBe(5 * 2 * 2);
  });

  it('matches every baseline to the first variant density per head, and the oracle bounds them all', () => {
    const blockPairs = (64 * 64) / (384 * 384);
    for (const c of evaluated) {
      const m = c.methods!;
      for (let h = 0; h < 2; h++) {
        const ref = m.mod.density[h];
        for (const name of ['oracle', 'window', 'svg']) expect(Math.abs(m[name].density[h] - ref)).toBeLessThanOrEqual(blockPairs / 2 + 1e-12);
        // whole blocks only (384 = 6 x 64): equal density is exact, so the oracle's recall is an upper bound
        for (const name of ['mod', 'window', 'svg']) expect(m.oracle.recall[h]).toBeGreaterThanOrEqual(m[name].recall[h] - 1e-12);
        for (const v of report.variants.slice(1)) expect(m[`oracle@${v.name}`].recall[h]).toBeGreaterThanOrEqual(m[v.name].recall[h] - 1e-12);
        for (const name of Object.keys(m)) {
          expect(m[name].recall[h]).toBeGreaterThan(0);
          expect(m[name].recall[h]).toBeLessThanOrEqual(1 + 1e-12);
          expect(m[name].relError[h]).toBeGreaterThanOrEqual(0);
        }
      }
    }
  });

  it('summarises exactly the per-call numbers', () => {
    const row = report.summary.find((r) => r.method === 'window')!;
    const recalls = evaluated.flatMap((c) => c.methods!.window.recall);
    expect(row.recall).toBeCloseTo(recalls.reduce((a, b) => a + b, 0) / recalls.length, 12);
    const sorted = [...recalls].sort((a, b) => a - b).slice(0, Math.ceil(recalls.length / 10));
    expect(row.recallWorst10).toBeCloseTo(sorted.reduce((a, b) => a + b, 0) / sorted.length, 12);
    const table = summaryTable(report);
    expect(table.split('\n').filter((l) => l.startsWith('| '))).toHaveLength(1 + report.variants.length + 3);
    expect(JSON.parse(JSON.stringify(report)).summary).toEqual(report.summary);
    const steps = stepTable(report).split('\n').slice(2);
    expect(steps.map((l) => Number(l.split('|')[1]))).toEqual([4, 5, 7, 8, 10, 11, 13]);
  });

  it('sweeps curves where the oracle dominates and recall grows with density', () => {
    const { series, densities } = report.curves;
    densities.forEach((_, i) => {
      expect(series.oracle[i]).toBeGreaterThanOrEqual(series.window[i] - 1e-12);
      expect(series.oracle[i]).toBeGreaterThanOrEqual(series.svg[i] - 1e-12);
      if (i > 0) expect(series.oracle[i]).toBeGreaterThanOrEqual(series.oracle[i - 1] - 1e-12);
    });
    expect(series.oracle[densities.length - 1]).toBeCloseTo(1, 12);
  });

  it('keeps heatmap material for layer 0, branch 0 at the drawn steps', () => {
    expect(heatmaps.cells).toHaveLength(2);
    for (const row of heatmaps.cells) expect(row).toHaveLength(heatmaps.steps.length);
    expect(heatmaps.cells[0][0].mask.length).toBe(36);
  });

  it('gives the same masks and metrics with the harness map as with the backend map', async () => {
    const harness = await runEvaluation({ ...options, mapSource: 'harness' });
    expect(harness.report.schedule.mapSource).toBe('harness');
    const a = evaluated.map((c) => c.methods);
    const b = harness.report.calls.filter((c) => c.methods).map((c) => c.methods);
    expect(b).toEqual(a);
  });

  it('evaluates a sample of query blocks and draws only those rows', async () => {
    const sampled = await runEvaluation({ ...options, suite: { ...options.suite, layers: 1, branches: 1 }, queryBlocks: 3 });
    expect(sampled.report.evaluatedQueryBlocks).toEqual([1, 3, 5]);
    expect(sampled.heatmaps.queryBlocks).toEqual([1, 3, 5]);
    expect(sampled.heatmaps.cells[1][0].mask.length).toBe(3 * 6);
    const full = evaluated.filter((c) => c.layer === 0 && c.branch === 0);
    // the MOD masks do not depend on the sample; the measured rows do
    expect(sampled.report.calls.filter((c) => c.methods).map((c) => c.step)).toEqual(full.map((c) => c.step));
  });

  it('rejects bad options with a typed error', async () => {
    await expect(runEvaluation({ ...options, variants: [] })).rejects.toThrow(EvalConfigError);
    await expect(runEvaluation({ ...options, queryBlocks: 7 })).rejects.toThrow(/queryBlocks must be an integer in \[1, 6\], got 7/);
    await expect(runEvaluation({ ...options, heatmapSteps: [6] })).rejects.toThrow(/step 6 is not an evaluated sparse step/);
  });
});
