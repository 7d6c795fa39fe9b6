import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "@mod-dit/wan", include: ["test/**/*.test.ts"] },
});
