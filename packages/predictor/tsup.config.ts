import { defineConfig } from "tsup";

export default defineConfig({
  entry: {"index":"src/index.ts","mask-file":"src/mask-file.ts"},
  format: ["esm", "cjs"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "node20",
});
