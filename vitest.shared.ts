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
