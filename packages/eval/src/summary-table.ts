import type { EvalReport } from './evaluation.js';
import { HEAD_KINDS } from './head-profile.js';

const pct = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : `${(100 * x).toFixed(1)}%`);

/**
 * The run's summary as a markdown table (one row per method, means over every evaluated
 * sparse call and head), preceded by one line naming the geometry and the timings.
 */
export function summaryTable(report: EvalReport): string {
  const s = report.suite;
  const t = report.timings;
  const kinds = HEAD_KINDS.filter((k) => report.summary.some((r) => r.recallByKind[k] !== undefined));
  const lines = [
    `Suite ${s.grid.join('x')} tokens (+${s.textTokens} text), block ${s.blockSize} (n = ${s.blocks}), ${s.heads} heads x ${s.layers} layers x ${s.branches} branches, head_dim ${s.headDim}, ${s.steps} steps (m = ${report.schedule.warmup}, T = ${report.schedule.interval}, tau = ${report.schedule.tau}), seed ${s.seed}; ` +
      `${report.evaluatedQueryBlocks.length}/${s.blocks} query blocks evaluated on ${t.metricCalls} sparse calls; ` +
      `time ${(t.totalMs / 1000).toFixed(1)} s (maps ${(t.mapMs / 1000).toFixed(1)} s over ${t.mapCalls} calls, metrics ${(t.metricsMs / 1000).toFixed(1)} s, scheduler ${(t.schedulerMs / 1000).toFixed(2)} s, suite ${(t.suiteMs / 1000).toFixed(1)} s).`,
    '',
    `| method | density | recall | recall, worst 10% | output rel. error | oracle recall at same density | ${kinds.map((k) => `recall ${k}`).join(' | ')} |`,
    `|---|---|---|---|---|---|${kinds.map(() => '---|').join('')}`,
  ];
  for (const r of report.summary)
    lines.push(
      `| ${r.method} | ${pct(r.density)} | ${pct(r.recall)} | ${pct(r.recallWorst10)} | ${r.relError.toFixed(4)} | ${pct(r.oracleRecall)} | ${kinds.map((k) => pct(r.recallByKind[k])).join(' | ')} |`,
    );
  return lines.join('\n');
}

/**
 * Per evaluated step (means over layers, branches and heads): the first variant's density,
 * recall and output error next to the baselines' recall at that density. Shows how a mask
 * ages over its interval and how MOD tracks the drift.
 */
export function stepTable(report: EvalReport): string {
  const ref = report.variants[0].name;
  const methods = [ref, 'oracle', 'window', 'svg'];
  const steps = [...new Set(report.calls.filter((c) => c.methods).map((c) => c.step))];
  const lines = [
    `| step | ${ref} density | ${methods.map((m) => `${m} recall`).join(' | ')} | ${ref} rel. error |`,
    `|---|---|${methods.map(() => '---|').join('')}---|`,
  ];
  for (const step of steps) {
    const calls = report.calls.filter((c) => c.step === step && c.methods);
    const mean = (method: string, key: 'density' | 'recall' | 'relError') => {
      const xs = calls.flatMap((c) => c.methods?.[method]?.[key] ?? []);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    lines.push(`| ${step} | ${pct(mean(ref, 'density'))} | ${methods.map((m) => pct(mean(m, 'recall'))).join(' | ')} | ${mean(ref, 'relError').toFixed(4)} |`);
  }
  return lines.join('\n');
}
