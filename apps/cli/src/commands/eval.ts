import { Command, Option } from 'commander';
import { EVAL_PRESET_NAMES, type EvalOverrides, type EvalPresetName, evalPreset, runEvaluation, summaryTable } from '@mod-dit/eval';
import { writeEvaluationFiles } from '@mod-dit/eval/node';
import type { CliIO } from '../io.js';
import { int } from '../option-parsers.js';

const nonNegativeInt = int(0);

/** Parsed flags: the overrides under their flag names. */
interface EvalFlags extends Omit<EvalOverrides, 'textTokens' | 'blockSize'> {
  preset: EvalPresetName;
  out: string;
  text?: number;
  block?: '64' | '128';
  json?: boolean;
}

/**
 * `mod-dit eval`: runs the MOD-DiT evaluation harness (a whole 50-step schedule over the
 * synthetic video-attention suite) and prints the summary table; writes report.json,
 * summary.md, masks.png and recall-density.png into --out.
 */
export function evalCommand(io: CliIO): Command {
  return new Command('eval')
    .description('measure MOD-DiT masks (density, attention-mass recall, output error) against oracle, static-window and SVG-like baselines on a synthetic video-attention suite')
    .addOption(new Option('--preset <name>', 'geometry preset').choices([...EVAL_PRESET_NAMES]).default('ci'))
    .option('--out <dir>', 'directory for report.json, summary.md and the PNG figures', 'mod-dit-eval')
    .option('--grid <FxHxW>', 'video token grid, frames x height x width (e.g. 5x12x16)')
    .option('--text <n>', 'text tokens appended to the sequence (joint attention)', nonNegativeInt)
    .addOption(new Option('--block <size>', 'block size in tokens').choices(['64', '128']))
    .option('--heads <n>', 'heads per layer', nonNegativeInt)
    .option('--head-dim <n>', 'head dimension of the synthetic q/k/v', nonNegativeInt)
    .option('--layers <n>', 'independent layers', nonNegativeInt)
    .option('--branches <n>', 'guidance branches', nonNegativeInt)
    .option('--steps <n>', 'denoising steps', nonNegativeInt)
    .option('--seed <n>', 'suite seed', nonNegativeInt)
    .option('--query-blocks <n>', 'query blocks evaluated per call (evenly spaced; default all, wan-480p 12)', nonNegativeInt)
    .option('--metric-every <n>', 'evaluate every n-th sparse step', nonNegativeInt)
    .addOption(new Option('--map-source <who>', 'who computes the sparsity maps').choices(['backend', 'harness']))
    .option('--json', 'print the whole report as JSON instead of the table')
    .action(async (flags: EvalFlags) => {
      const options = evalPreset(flags.preset, {
        grid: flags.grid,
        textTokens: flags.text,
        blockSize: flags.block === undefined ? undefined : Number(flags.block),
        heads: flags.heads,
        headDim: flags.headDim,
        layers: flags.layers,
        branches: flags.branches,
        steps: flags.steps,
        seed: flags.seed,
        queryBlocks: flags.queryBlocks,
        metricEvery: flags.metricEvery,
        mapSource: flags.mapSource,
      });
      const started = Date.now();
      const { report, heatmaps } = await runEvaluation({
        ...options,
        onProgress: (line) => {
          if (line.startsWith('step ') && Number(line.split(/[ /]/)[1]) % 10 === 0) io.err(`${line} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
        },
      });
      const files = await writeEvaluationFiles(flags.out, report, heatmaps);
      io.out(flags.json ? `${JSON.stringify(report, null, 1)}\n` : `${summaryTable(report)}\n\nwrote ${files.join(', ')}\n`);
    });
}
