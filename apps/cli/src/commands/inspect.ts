import { Command } from 'commander';
import { Checkpoint } from '@mod-dit/tensor/safetensors';
import type { CliIO } from '../io.js';
import { summarizeCheckpoint } from '../inspect/summary.js';
import { formatSummary } from '../inspect/format.js';

/** `mod-dit inspect <path>`: tensors, totals and the detected model of a checkpoint. */
export function inspectCommand(io: CliIO): Command {
  return new Command('inspect')
    .description('list the tensors of a safetensors checkpoint and detect its model family, variant and key layout')
    .argument('<path>', 'a .safetensors file, a *.safetensors.index.json, or a directory holding one of them')
    .option('--all', 'list every tensor (default: the first 20)')
    .option('--json', 'print the full report as JSON')
    .action(async (path: string, opts: { all?: boolean; json?: boolean }) => {
      const ckpt = await Checkpoint.open(path);
      try {
        const summary = summarizeCheckpoint(ckpt);
        io.out(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary, opts.all === true));
      } finally {
        await ckpt.close();
      }
    });
}
