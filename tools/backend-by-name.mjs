// Opens a @mod-dit backend by name from the built packages (`npx tsup` in packages/tensor, and in
// packages/cuda or packages/webgpu for those). GPU packages are imported on demand, so a script
// run on the CPU needs neither koffi nor Dawn.
const packages = new URL('../packages/', import.meta.url);

/** Backend names the tools/ scripts accept for `--backend`. */
export const BACKEND_NAMES = ['cpu', 'cuda', 'webgpu'];

/** Creates the `cpu`, `cuda` or `webgpu` backend. */
export async function openBackend(name) {
  if (name === 'cpu') return (await import(new URL('tensor/dist/index.js', packages).href)).cpuBackend();
  if (name === 'cuda') return (await import(new URL('cuda/dist/index.js', packages).href)).createCudaBackend();
  if (name === 'webgpu') return (await import(new URL('webgpu/dist/index.js', packages).href)).createWebGPUBackend();
  throw new Error(`unknown --backend ${name} (${BACKEND_NAMES.join(' | ')})`);
}
