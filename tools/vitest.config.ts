import { defineProject } from 'vitest/config';
import { workspaceAliases } from '../vitest.shared.ts';

export default defineProject({
  resolve: { alias: workspaceAliases },
  test: { name: '@mod-dit/tools', include: ['**/*.test.ts'], exclude: ['**/node_modules/**'] },
});
