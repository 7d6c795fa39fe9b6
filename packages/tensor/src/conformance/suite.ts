import type { Backend } from '../backend.js';
import { CpuBackend } from '../cpu/index.js';
import type { DType } from '../dtype.js';
import { Rng } from '../random.js';
import { scope } from '../tensor.js';
import { CaseContext, checkTensors } from './case-context.js';
import type { CaseSpec, SuiteSize } from './case-spec.js';
import { attentionCases } from './cases/attention.js';
import { dataMovementCases } from './cases/data-movement.js';
import { errorCases } from './cases/errors.js';
import { matmulCases } from './cases/linear-algebra.js';
import { pointwiseCases } from './cases/pointwise.js';
import { ropeCases } from './cases/positional.js';
import { verify } from './verify.js';

/** One runnable case: `run()` resolves, or rejects with a ConformanceError carrying a readable diff. */
export interface ConformanceCase {
  name: string;
  run(): Promise<void>;
}

/** Options of {@link conformanceCases} and {@link runConformance}. */
export interface ConformanceOptions {
  /** Base seed; case i draws its inputs from seed + i (default 0). */
  seed?: number;
  /** Restricts the float dtypes tested (intersected with backend.floatDTypes). */
  dtypes?: readonly DType[];
  /** 'small' (default): seconds on a CPU or lavapipe. 'medium': 1-2k tokens, head_dim 128, for GPUs. */
  size?: SuiteSize;
  /** Keeps only cases whose name matches. */
  only?: RegExp;
  /** Drops cases whose name matches. */
  skip?: RegExp;
}

function specs(size: SuiteSize): CaseSpec[] {
  return [...dataMovementCases(size), ...matmulCases(size), ...pointwiseCases(size), ...ropeCases(size), ...attentionCases(size), ...errorCases()];
}

/**
 * The conformance cases for `backend`: every op of the Backend contract on fresh seeded
 * random inputs of awkward shapes, per float dtype, against the CPU reference backend on
 * the same dtype-quantized inputs; plus typed-error cases. Names look like
 * `[bf16] attention dense, ...`. Use with any test runner:
 * `for (const c of conformanceCases(b)) it(c.name, c.run)`.
 */
export function conformanceCases(backend: Backend, opts: ConformanceOptions = {}): ConformanceCase[] {
  const size = opts.size ?? 'small';
  const dtypes = backend.floatDTypes.filter((d) => !opts.dtypes || opts.dtypes.includes(d));
  const ref = new CpuBackend();
  const seed = opts.seed ?? 0;
  const cases: { name: string; dtype: DType; spec: CaseSpec }[] = [];
  for (const spec of specs(size)) {
    const ds = spec.per === 'once' ? dtypes.slice(0, 1) : dtypes;
    for (const dtype of ds) cases.push({ name: `[${dtype}] ${spec.name}`, dtype, spec });
  }
  return cases
    .map(({ name, dtype, spec }, index) => ({
      name,
      run: async () => {
        const ctx = new CaseContext(backend, ref, dtype, new Rng(seed + index));
        const checks = scope(() => spec.body(ctx));
        try {
          for (const c of checks) await verify(c);
        } finally {
          for (const t of new Set(checkTensors(checks))) t.dispose();
        }
      },
    }))
    .filter((c) => (!opts.only || opts.only.test(c.name)) && !(opts.skip && opts.skip.test(c.name)));
}

/** Runs every case in order and collects the outcome (never throws for a failing case). */
export async function runConformance(backend: Backend, opts?: ConformanceOptions): Promise<{ passed: string[]; failed: { name: string; error: Error }[] }> {
  const passed: string[] = [];
  const failed: { name: string; error: Error }[] = [];
  for (const c of conformanceCases(backend, opts)) {
    try {
      await c.run();
      passed.push(c.name);
    } catch (e) {
      failed.push({ name: c.name, error: e instanceof Error ? e : new Error(String(e)) });
    }
  }
  return { passed, failed };
}
