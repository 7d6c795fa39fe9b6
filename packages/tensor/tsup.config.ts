import { defineConfig } from "tsup";

export default defineConfig({
  entry: {"index":"src/index.ts","safetensors":"src/safetensors.ts","conformance":"src/conformance.ts"},
  format: ["esm", "cjs"],
  dts: true,
  clean: true,
  // one shared chunk per module, so that error classes are the same across entries (instanceof works in CJS too)
  splitting: true,
  sourcemap: true,
  target: "node20",
});
