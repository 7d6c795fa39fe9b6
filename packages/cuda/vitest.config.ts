import { defineProject } from 'vitest/config';
import { TEST_TIMEOUT_MS, workspaceAliases } from '../../vitest.shared.ts';

export default defineProject({
  resolve: { alias: workspaceAliases },
  // koffi is a native addon: worker threads are not safe for it, forked processes are
  test: { name: '@mod-dit/cuda', include: ['test/**/*.test.ts'], testTimeout: TEST_TIMEOUT_MS, hookTimeout: TEST_TIMEOUT_MS, pool: 'forks' },
});
