// Wall-clock timing of enqueued backend calls, shared by the attention benchmarks: one warm-up
// call, then `iters` calls closed by backend.sync(), so asynchronous backends are timed to
// completion. Every result is disposed as soon as it is returned, so device memory stays flat.

/** Disposes an op result: a tensor, or an object of tensors (attention's { out, lse, map }). */
export function disposeResult(r) {
  if (!r) return;
  if (typeof r.dispose === 'function') r.dispose();
  else for (const t of Object.values(r)) t?.dispose?.();
}

/** Mean wall ms of `fn()` over `iters` enqueued calls, after one warm-up call. */
export async function timeCalls(backend, fn, iters) {
  disposeResult(fn());
  await backend.sync();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) disposeResult(fn());
  await backend.sync();
  return (performance.now() - t0) / iters;
}
