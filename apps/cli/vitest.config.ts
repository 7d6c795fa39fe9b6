import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "@mod-dit/cli", include: ["test/**/*.test.ts"] },
});
