import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EvalConfigError, evalPreset, parseGrid, runEvaluation } from '../src/index.js';
import { writeEvaluationFiles } from '../src/node.js';

describe('presets', () => {
  it('apply overrides on top of the named setup', () => {
    const ci = evalPreset('ci', { grid: '3x8x16', heads: 2, steps: 14, mapSource: 'harness' });
    expect(ci.suite.grid).toEqual([3, 8, 16]);
    expect(ci.suite.heads).toBe(2);
    expect(ci.suite.headDim).toBe(32);
    expect(ci.mapSource).toBe('harness');
    const wan = evalPreset('wan-480p');
    expect(wan.suite.grid).toEqual([21, 30, 52]);
    expect(wan.variants?.map((v) => v.name)).toContain('mod-topk-350');
  });

  it('reject malformed grids and unknown presets', () => {
    expect(parseGrid('21x30x52')).toEqual([21, 30, 52]);
    expect(() => parseGrid('21x30')).toThrow(/got "21x30"/);
    expect(() => parseGrid('2x0x3')).toThrow(EvalConfigError);
    expect(() => evalPreset('hunyuan' as 'ci')).toThrow(/unknown preset hunyuan/);
  });
});

describe('writeEvaluationFiles', () => {
  it('writes the report, the table and both figures, and nothing else', async () => {
    const opts = evalPreset('ci', { grid: '3x8x16', heads: 2, headDim: 12, steps: 14 });
    const { report, heatmaps } = await runEvaluation({ ...opts, warmup: 4, interval: 3, curveEvery: 3 });
    const dir = await mkdtemp(join(tmpdir(), 'mod-dit-eval-'));
    try {
      const files = await writeEvaluationFiles(join(dir, 'out'), report, heatmaps);
      expect(files.map((f) => f.slice(dir.length + 5)).sort()).toEqual(['masks.png', 'recall-density.png', 'report.json', 'summary.md']);
      expect((await readdir(join(dir, 'out'))).sort()).toEqual(['masks.png', 'recall-density.png', 'report.json', 'summary.md']);
      expect(JSON.parse(await readFile(join(dir, 'out', 'report.json'), 'utf8')).summary).toEqual(report.summary);
      expect((await readFile(join(dir, 'out', 'summary.md'), 'utf8')).includes('| mod |')).toBe(true);
      const png = await readFile(join(dir, 'out', 'masks.png'));
      expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
