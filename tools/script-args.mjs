// Command-line flags of the tools/ scripts: `--name value` pairs and bare `--name` switches.
// Scripts read process.argv directly (no parser dependency); this is the one place that does it.
const argv = process.argv.slice(2);

/** The value after `--name`, or `fallback` when the flag is absent. */
export function option(name, fallback) {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? fallback : argv[i + 1];
}

/** Whether the bare switch `--name` is given. */
export function flag(name) {
  return argv.includes(`--${name}`);
}
