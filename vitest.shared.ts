import { fileURLToPath } from 'node:url';
import { readdirSync, existsSync } from 'node:fs';

// Tests import sibling packages from source, so a test run needs no prior build and
// never sees a stale or half-rebuilt dist/.
const root = fileURLToPath(new URL('.', import.meta.url));
const entries: Record<string, string> = {};
for (const dir of readdirSync(`${root}packages`)) {
  const src = `${root}packages/${dir}/src`;
  if (!existsSync(src)) continue;
  for (const file of readdirSync(src)) {
    if (!file.endsWith('.ts')) continue;
    const entry = file.slice(0, -3);
    entries[entry === 'index' ? `@mod-dit/${dir}` : `@mod-dit/${dir}/${entry}`] = `${src}/${file}`;
  }
}

/** Exact-match aliases from `@mod-dit/<pkg>[/<entry>]` to its source entry. */
export const workspaceAliases = Object.entries(entries).map(([find, replacement]) => ({
  find: new RegExp(`^${find.replace(/[/.]/g, '\\$&')}$`),
  replacement,
}));

/**
 * Per-test and per-hook limit: generous, because `turbo run test` runs every package's tests at once on
 * 2-core CI machines (a test taking 0.7 s alone has taken 7 s there). Tests check results, not speed.
 */
export const TEST_TIMEOUT_MS = 120_000;
