#!/usr/bin/env node
// The MOD-DiT evaluation harness as a script (the same run as `mod-dit eval`).
// Needs the built packages: (cd packages/tensor && npx tsup) && ... && (cd packages/eval && npx tsup).
import { parseArgs } from 'node:util';
import { EVAL_PRESET_NAMES, evalPreset, runEvaluation, summaryTable } from '../packages/eval/dist/index.js';
import { writeEvaluationFiles } from '../packages/eval/dist/node.js';

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'ci' },
    out: { type: 'string', default: 'mod-dit-eval' },
    grid: { type: 'string' },
    text: { type: 'string' },
    block: { type: 'string' },
    heads: { type: 'string' },
    'head-dim': { type: 'string' },
    layers: { type: 'string' },
    branches: { type: 'string' },
    steps: { type: 'string' },
    seed: { type: 'string' },
    'query-blocks': { type: 'string' },
    'metric-every': { type: 'string' },
    'map-source': { type: 'string' },
  },
});

function int(name) {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`eval.mjs: --${name} expects a non-negative integer, got "${v}"`);
    process.exit(2);
  }
  return n;
}

if (!EVAL_PRESET_NAMES.includes(values.preset)) {
  console.error(`eval.mjs: --preset must be one of ${EVAL_PRESET_NAMES.join(', ')}, got "${values.preset}"`);
  process.exit(2);
}
try {
  const options = evalPreset(values.preset, {
    grid: values.grid,
    textTokens: int('text'),
    blockSize: int('block'),
    heads: int('heads'),
    headDim: int('head-dim'),
    layers: int('layers'),
    branches: int('branches'),
    steps: int('steps'),
    seed: int('seed'),
    queryBlocks: int('query-blocks'),
    metricEvery: int('metric-every'),
    mapSource: values['map-source'],
  });
  const started = Date.now();
  const { report, heatmaps } = await runEvaluation({
    ...options,
    onProgress: (line) => console.error(`${line} (${((Date.now() - started) / 1000).toFixed(1)} s)`),
  });
  const files = await writeEvaluationFiles(values.out, report, heatmaps);
  console.log(summaryTable(report));
  console.log(`\nwrote ${files.join(', ')}`);
} catch (e) {
  console.error(`eval.mjs: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
