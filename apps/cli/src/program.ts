import { Command, CommanderError } from 'commander';
import { ModDitError } from '@mod-dit/tensor';
import pkg from '../package.json' with { type: 'json' };
import type { CliIO } from './io.js';
import { compareCommand } from './commands/compare.js';
import { evalCommand } from './commands/eval.js';
import { generateCommand } from './commands/generate.js';
import { inspectCommand } from './commands/inspect.js';

/** Every subcommand: add a `commands/<name>.ts` factory and list it here. */
const COMMANDS: readonly ((io: CliIO) => Command)[] = [inspectCommand, evalCommand, generateCommand, compareCommand];

/** Exit codes: 0 ok, 1 bad input (missing or malformed files...), 2 usage error. */
const EXIT_OK = 0;
const EXIT_BAD_INPUT = 1;
const EXIT_USAGE = 2;

/** Builds the `mod-dit` program writing to `io`; commander errors throw instead of exiting. */
function createProgram(io: CliIO): Command {
  const program = new Command('mod-dit')
    .description('MOD-DiT: dynamic block-sparse attention for video diffusion transformers')
    .version(pkg.version)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
  for (const make of COMMANDS) program.addCommand(make(io).copyInheritedSettings(program));
  return program;
}

/** Runs `mod-dit` with `argv` (without node and script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  try {
    await createProgram(io).parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (e) {
    // Commander has already printed usage errors and help; exit code 0 means --help/--version.
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    const message = e instanceof Error ? e.message : String(e);
    io.err(`mod-dit: ${e instanceof ModDitError ? '' : 'unexpected error: '}${message}\n`);
    return EXIT_BAD_INPUT;
  }
}
