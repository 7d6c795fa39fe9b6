import { defineProject } from 'vitest/config';
import { TEST_TIMEOUT_MS, workspaceAliases } from '../../vitest.shared.ts';

export default defineProject({
  resolve: { alias: workspaceAliases },
  // dawn.node is a native addon: run test files in child processes, not worker threads
  test: { name: '@mod-dit/webgpu', include: ['test/**/*.test.ts'], pool: 'forks', testTimeout: 120_000, hookTimeout: 60_000 },
});
