import type { AttentionOptions, AttentionResult, Backend, Tensor } from '@mod-dit/tensor';

/** One attention variant's result (from its last timed run) and its median wall time. */
export interface TimedAttention {
  result: AttentionResult;
  /** Median over the timed runs of enqueue + completion (`backend.sync()`), in ms. */
  ms: number;
}

function release(r: AttentionResult): void {
  r.out.dispose();
  r.lse.dispose();
  r.map?.dispose();
}

/**
 * Runs `backend.attention` once untimed (WebGPU compiles its pipelines on first use), then
 * `repeats` times timed, each until the backend has finished (`sync`). Keeps the last result.
 */
export async function timedAttention(backend: Backend, q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions, repeats: number): Promise<TimedAttention> {
  release(backend.attention(q, k, v, opts));
  await backend.sync();
  const times: number[] = [];
  let result: AttentionResult | undefined;
  for (let i = 0; i < repeats; i++) {
    if (result) release(result);
    const t0 = performance.now();
    result = backend.attention(q, k, v, opts);
    await backend.sync();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { result: result as AttentionResult, ms: times[Math.floor((times.length - 1) / 2)] };
}
