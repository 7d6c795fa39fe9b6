import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "@mod-dit/tensor", include: ["test/**/*.test.ts"] },
});
