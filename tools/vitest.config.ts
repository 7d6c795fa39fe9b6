import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "@mod-dit/tools", include: ["**/*.test.ts"], exclude: ["**/node_modules/**"] },
});
