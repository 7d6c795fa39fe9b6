import { runCli } from './program.js';

// The `mod-dit` binary: no stack traces for bad input, the exit code says what went wrong.
process.exitCode = await runCli(process.argv.slice(2), {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
});
