import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "@mod-dit/cuda", include: ["test/**/*.test.ts"] },
});
