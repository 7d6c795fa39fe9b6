import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "@mod-dit/scheduler", include: ["test/**/*.test.ts"] },
});
