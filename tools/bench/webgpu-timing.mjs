// GPU timing of WebGPU backend calls for the webgpu-* benchmarks: timestamp queries around
// each call's compute passes (WebGPUBackend.timeGpu), summarized by the median of N calls, so
// host overhead, queue gaps and one slow call do not move the number. Where the device lacks
// 'timestamp-query', falls back to wall clock per call (each call closed by backend.sync()).
import { disposeResult } from './timed-calls.mjs';

/**
 * Untimed calls of `fn`, enqueued in batches that grow until one takes ~20 ms so that the GPU
 * stays busy, for at least `ms` and until two batches in a row agree on the time per call
 * (within 3%; at most 2 s): after host-side phases (data generation, shader compiles) the
 * H100 sits at its idle clock (345 MHz in the nvidia-smi log) and is timed only back at speed.
 */
async function warmUp(backend, fn, ms) {
  const t0 = performance.now();
  let batch = 1;
  let last; // time per call of the previous batch (none after the first, which may include compiles)
  for (;;) {
    const b0 = performance.now();
    for (let i = 0; i < batch; i++) disposeResult(fn());
    await backend.sync();
    const took = performance.now() - b0;
    const perCall = took / batch;
    const elapsed = performance.now() - t0;
    if (elapsed >= 2000 || (elapsed >= ms && last !== undefined && Math.abs(perCall - last) <= 0.03 * last)) return;
    last = perCall;
    if (took < 20) batch = Math.min(2 * batch, 256);
  }
}

/**
 * { ms (median), min, max, n, timer } of `iters` calls of `fn`, after at least 300 ms of
 * warm-up calls, until the time per call settles (warmUp).
 */
export async function gpuStats(backend, fn, iters) {
  await warmUp(backend, fn, 300);
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
