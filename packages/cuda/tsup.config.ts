import { defineConfig } from "tsup";

export default defineConfig({
  entry: {"index":"src/index.ts"},
  format: ["esm", "cjs"],
  dts: true,
  // keep dist/kernels (compiled by scripts/build-kernels.mjs just before)
  clean: false,
  sourcemap: true,
  target: "node20",
  // kernel-modules.ts finds dist/kernels through import.meta.url, also in the CJS build
  shims: true,
});
