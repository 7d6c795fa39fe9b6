// GPU timing of WebGPU backend calls for the webgpu-* benchmarks: timestamp queries around
// each call's compute passes (WebGPUBackend.timeGpu), summarized by the median of N calls, so
// host overhead, queue gaps and one slow call do not move the number. Where the device lacks
// 'timestamp-query', falls back to wall clock per call (each call closed by backend.sync()).
import { disposeResult } from './timed-calls.mjs';

/** Untimed calls of `fn` for about `ms` of wall time (at least one), so clocks and caches settle first. */
async function warmUp(backend, fn, ms) {
  const t0 = performance.now();
  do {
    disposeResult(fn());
    await backend.sync();
  } while (performance.now() - t0 < ms);
}

/**
 * { ms (median), min, max, n, timer } of `iters` calls of `fn`, after ~200 ms of warm-up calls
 * (a single warm-up left whole rows 3-4x slow on the H100 after idle host-side phases).
 */
export async function gpuStats(backend, fn, iters) {
  await warmUp(backend, fn, 200);
  let times;
  let timer = 'gpu-timestamp';
  if (backend.canTimeGpu) times = await backend.timeGpu(() => disposeResult(fn()), iters);
  else {
    timer = 'wall-per-call';
    disposeResult(fn());
    await backend.sync();
    times = [];
    for (let i = 0; i < iters; i++) {
      const t0 = performance.now();
      disposeResult(fn());
      await backend.sync();
      times.push(performance.now() - t0);
    }
  }
  const s = [...times].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const ms = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { ms, min: s[0], max: s[s.length - 1], n: s.length, timer };
}
