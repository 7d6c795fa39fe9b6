// Bundles the demo for browsers: dist/index.html + dist/app.js (+ source map). The
// @mod-dit/* packages are consumed through their published entry points (dist/), like any
// npm user would, so `turbo run build` builds them first.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = `${root}dist`;

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
const result = await build({
  entryPoints: [`${root}src/main.ts`],
  outfile: `${dist}/app.js`,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  // WebGPU browsers (Chrome 113+, Safari 26, Firefox 141) all run ES2022.
  target: 'es2022',
  sourcemap: true,
  minify: true,
  // Error class names (ModDitError subclasses) are shown on the page: keep them readable.
  keepNames: true,
  // @mod-dit/webgpu loads Dawn's 'webgpu' package only under Node (no navigator.gpu); the page never takes that path.
  external: ['webgpu'],
  metafile: true,
  logLevel: 'warning',
});
const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external && i.path !== 'webgpu'));
if (imports.length) throw new Error(`app.js would import ${imports.map((i) => i.path).join(', ')} at run time; browsers cannot resolve them`);
await copyFile(`${root}src/index.html`, `${dist}/index.html`);
const { bytes } = Object.values(result.metafile.outputs).find((o) => o.entryPoint);
console.log(`apps/web: dist/index.html + dist/app.js (${Math.round(bytes / 1024)} KiB)`);
