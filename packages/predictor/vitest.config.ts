import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "@mod-dit/predictor", include: ["test/**/*.test.ts"] },
});
