// read() and sync() wait for the GPU without blocking the JavaScript thread (they poll an event
// and yield), so other async work, such as the other guidance branch's enqueueing, runs while
// one read waits; and what they return is the stream's data at that point.
import { Rng } from '@mod-dit/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { cudaAvailability } from '../src/availability.js';
import { createCudaBackend } from '../src/cuda-backend.js';

const gpu = cudaAvailability().available ? createCudaBackend() : undefined;
afterAll(() => gpu?.destroy());

/** A random signed permutation matrix [n, n] (row i has sign[i] at column perm[i]). */
function signedPermutation(n: number, rng: Rng): { perm: Int32Array; sign: Float32Array; dense: Float32Array } {
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const sign = Float32Array.from({ length: n }, () => (rng.uniform() < 0.5 ? -1 : 1));
  const dense = new Float32Array(n * n);
  for (let i = 0; i < n; i++) dense[i * n + perm[i]] = sign[i];
  return { perm, sign, dense };
}

/** Counts event-loop turns until stop() is called. */
function turnCounter(): { stop: () => number } {
  let turns = 0;
  let running = true;
  const tick = (): void => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop: () => {
      running = false;
      return turns;
    },
  };
}

describe.runIf(gpu)('read-back without blocking the thread', () => {
  it('other tasks run while read() waits for a chain of GEMMs, and the read returns the chain\'s result', async () => {
    const b = gpu!;
    const n = 2048;
    const steps = 17;
    const { perm, sign, dense } = signedPermutation(n, new Rng(7));
    const a = b.upload(dense, [n, n], 'f32');
    let y = a;
    for (let s = 1; s < steps; s++) {
      const z = b.matmul(y, a);
      if (y !== a) y.dispose();
      y = z;
    }
    const counter = turnCounter();
    const got = await y.toFloat32();
    const turns = counter.stop();
    expect(turns, 'event-loop turns while the read waited').toBeGreaterThan(0);
    // (S P)^steps in closed form: row i follows the permutation `steps` times, multiplying the signs
    for (const i of [0, 1, n >> 1, n - 1]) {
      let col = i;
      let value = 1;
      for (let s = 0; s < steps; s++) {
        value *= sign[col];
        col = perm[col];
      }
      const row = got.subarray(i * n, (i + 1) * n);
      expect(row[col], `row ${i}`).toBe(value);
      expect(row.reduce((acc, v) => acc + Math.abs(v), 0), `row ${i} has one non-zero`).toBe(1);
    }
    y.dispose();
    a.dispose();
  });

  it('sync() also lets other tasks run while the stream drains', async () => {
    const b = gpu!;
    const n = 2048;
    const rng = new Rng(11);
    const x = b.upload(Float32Array.from(rng.normals(n * n, 1 / Math.sqrt(n))), [n, n], 'f32');
    const outs = Array.from({ length: 12 }, () => b.matmul(x, x));
    const counter = turnCounter();
    await b.sync();
    expect(counter.stop()).toBeGreaterThan(0);
    for (const o of outs) o.dispose();
    x.dispose();
  });
});
