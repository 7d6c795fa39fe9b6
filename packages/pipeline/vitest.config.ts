import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "@mod-dit/pipeline", include: ["test/**/*.test.ts"] },
});
