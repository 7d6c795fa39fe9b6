import { defineConfig } from 'vitest/config';

// VITEST_JSON=<file> adds vitest's JSON report (CI reads its counts for the closing line).
const json = process.env.VITEST_JSON;

export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*'],
    reporters: json ? ['default', 'json'] : ['default'],
    ...(json ? { outputFile: { json } } : {}),
  },
});
