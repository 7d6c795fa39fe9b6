import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "@mod-dit/webgpu", include: ["test/**/*.test.ts"] },
});
