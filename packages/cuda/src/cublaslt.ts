import type { DType } from '@mod-dit/tensor';
import { checkCublas } from './cuda-error.js';
import type { CudaContext } from './driver.js';
import { readHandle } from './driver.js';
import type { LtGemmShape } from './gemm-plan.js';
import { bindLibrary } from './native-library.js';

interface LtApi {
  cublasLtCreate(h: Buffer): number;
  cublasLtDestroy(h: bigint): number;
  cublasLtMatmulDescCreate(d: Buffer, compute: number, scale: number): number;
  cublasLtMatmulDescSetAttribute(d: bigint, attr: number, buf: Buffer, size: number): number;
  cublasLtMatmulDescDestroy(d: bigint): number;
  cublasLtMatrixLayoutCreate(l: Buffer, type: number, rows: number, cols: number, ld: number): number;
  cublasLtMatrixLayoutSetAttribute(l: bigint, attr: number, buf: Buffer, size: number): number;
  cublasLtMatrixLayoutDestroy(l: bigint): number;
  cublasLtMatmulPreferenceCreate(p: Buffer): number;
  cublasLtMatmulPreferenceSetAttribute(p: bigint, attr: number, buf: Buffer, size: number): number;
  cublasLtMatmulPreferenceDestroy(p: bigint): number;
  cublasLtMatmulAlgoGetHeuristic(h: bigint, d: bigint, a: bigint, b: bigint, c: bigint, dd: bigint, p: bigint, n: number, res: Buffer, count: Buffer): number;
  cublasLtMatmul(
    h: bigint, d: bigint, alpha: Buffer, A: bigint, Ad: bigint, B: bigint, Bd: bigint, beta: Buffer,
    C: bigint, Cd: bigint, D: bigint, Dd: bigint, algo: Buffer, ws: bigint, wsSize: number, stream: bigint,
  ): number;
}

const SIGNATURES = [
  'int cublasLtCreate(void *h)',
  'int cublasLtDestroy(void *h)',
  'int cublasLtMatmulDescCreate(void *d, int compute, int scale)',
  'int cublasLtMatmulDescSetAttribute(void *d, int attr, void *buf, size_t size)',
  'int cublasLtMatmulDescDestroy(void *d)',
  'int cublasLtMatrixLayoutCreate(void *l, int type, uint64_t rows, uint64_t cols, int64_t ld)',
  'int cublasLtMatrixLayoutSetAttribute(void *l, int attr, void *buf, size_t size)',
  'int cublasLtMatrixLayoutDestroy(void *l)',
  'int cublasLtMatmulPreferenceCreate(void *p)',
  'int cublasLtMatmulPreferenceSetAttribute(void *p, int attr, void *buf, size_t size)',
  'int cublasLtMatmulPreferenceDestroy(void *p)',
  'int cublasLtMatmulAlgoGetHeuristic(void *h, void *d, void *a, void *b, void *c, void *dd, void *p, int n, void *res, void *count)',
  'int cublasLtMatmul(void *h, void *d, void *alpha, uint64_t A, void *Ad, uint64_t B, void *Bd, void *beta, uint64_t C, void *Cd, uint64_t D, void *Dd, void *algo, uint64_t ws, size_t wsSize, void *stream)',
];

// cudaDataType_t / cublasComputeType_t / attribute enums of cublasLt.h
const CUDA_TYPE: Readonly<Record<string, number>> = { f32: 0, f16: 2, bf16: 14 };
const CUBLAS_COMPUTE_32F = 68;
const DESC_TRANSA = 3;
const DESC_EPILOGUE = 7;
const DESC_BIAS_POINTER = 8;
const EPILOGUE_DEFAULT = 1;
const EPILOGUE_BIAS = 4;
// tanh-approximated GELU in the f32 epilogue, after the bias where there is one
const EPILOGUE_GELU = 32;
const EPILOGUE_GELU_BIAS = 36;
const LAYOUT_BATCH_COUNT = 5;
const LAYOUT_STRIDED_BATCH_OFFSET = 6;
const PREF_MAX_WORKSPACE_BYTES = 1;
const HEURISTIC_RESULT_BYTES = 96;

export const GEMM_WORKSPACE_BYTES = 32 << 20;

/** A planned GEMM shape: descriptors and the algorithm cuBLASLt's heuristic picked for it. */
interface Plan {
  desc: bigint;
  layouts: [bigint, bigint, bigint];
  algo: Buffer;
}

/** One GEMM call in cuBLASLt's column-major terms; pointers already offset. */
export interface LtCall {
  dtype: DType;
  shape: LtGemmShape;
  batch: { count: number; strideA: number; strideB: number; strideC: number };
  A: bigint;
  B: bigint;
  C: bigint;
  bias: bigint | null;
  /** Apply GELU (tanh form) in the epilogue, after the bias. */
  gelu?: boolean;
}

function epilogueOf(c: LtCall): number {
  if (c.gelu) return c.bias !== null ? EPILOGUE_GELU_BIAS : EPILOGUE_GELU;
  return c.bias !== null ? EPILOGUE_BIAS : EPILOGUE_DEFAULT;
}

function i32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
}
function i64(v: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(v));
  return b;
}

/** cuBLASLt (libcublasLt.so.13) through koffi: f32 accumulation, optional bias and GELU epilogues. */
export class CublasLt {
  private readonly api: LtApi;
  private readonly handle: bigint;
  private readonly pref: bigint;
  private readonly plans = new Map<string, Plan>();
  private readonly one = Buffer.alloc(4);
  private readonly zero = Buffer.alloc(4);

  constructor(private readonly ctx: CudaContext, private readonly workspace: bigint, path = 'libcublasLt.so.13') {
    this.api = bindLibrary<LtApi>(path, SIGNATURES);
    this.one.writeFloatLE(1);
    const h = Buffer.alloc(8);
    checkCublas('cublasLtCreate', this.api.cublasLtCreate(h));
    this.handle = readHandle(h);
    const p = Buffer.alloc(8);
    checkCublas('cublasLtMatmulPreferenceCreate', this.api.cublasLtMatmulPreferenceCreate(p));
    this.pref = readHandle(p);
    checkCublas('cublasLtMatmulPreferenceSetAttribute(workspace)',
      this.api.cublasLtMatmulPreferenceSetAttribute(this.pref, PREF_MAX_WORKSPACE_BYTES, i64(GEMM_WORKSPACE_BYTES), 8));
  }

  private plan(c: LtCall): Plan {
    const s = c.shape;
    const key = `${c.dtype}|${s.m}|${s.n}|${s.k}|${s.transA}|${c.batch.count}|${c.batch.strideA}|${c.batch.strideB}|${epilogueOf(c)}`;
    const cached = this.plans.get(key);
    if (cached) return cached;
    const api = this.api;
    const out = Buffer.alloc(8);
    checkCublas('cublasLtMatmulDescCreate', api.cublasLtMatmulDescCreate(out, CUBLAS_COMPUTE_32F, CUDA_TYPE.f32));
    const desc = readHandle(out);
    checkCublas('cublasLtMatmulDescSetAttribute(TRANSA)', api.cublasLtMatmulDescSetAttribute(desc, DESC_TRANSA, i32(s.transA ? 1 : 0), 4));
    checkCublas('cublasLtMatmulDescSetAttribute(EPILOGUE)',
      api.cublasLtMatmulDescSetAttribute(desc, DESC_EPILOGUE, i32(epilogueOf(c)), 4));
    if (c.bias !== null) checkCublas('cublasLtMatmulDescSetAttribute(BIAS_POINTER)', api.cublasLtMatmulDescSetAttribute(desc, DESC_BIAS_POINTER, i64(c.bias), 8));
    const type = CUDA_TYPE[c.dtype];
    const layout = (m: { rows: number; cols: number; ld: number }, stride: number): bigint => {
      checkCublas('cublasLtMatrixLayoutCreate', api.cublasLtMatrixLayoutCreate(out, type, m.rows, m.cols, m.ld));
      const l = readHandle(out);
      if (c.batch.count > 1) {
        checkCublas('cublasLtMatrixLayoutSetAttribute(BATCH_COUNT)', api.cublasLtMatrixLayoutSetAttribute(l, LAYOUT_BATCH_COUNT, i32(c.batch.count), 4));
        checkCublas('cublasLtMatrixLayoutSetAttribute(STRIDED_BATCH_OFFSET)', api.cublasLtMatrixLayoutSetAttribute(l, LAYOUT_STRIDED_BATCH_OFFSET, i64(stride), 8));
      }
      return l;
    };
    const layouts: [bigint, bigint, bigint] = [layout(s.a, c.batch.strideB), layout(s.b, c.batch.strideA), layout(s.c, c.batch.strideC)];
    const res = Buffer.alloc(HEURISTIC_RESULT_BYTES);
    const count = Buffer.alloc(4);
    checkCublas('cublasLtMatmulAlgoGetHeuristic',
      api.cublasLtMatmulAlgoGetHeuristic(this.handle, desc, layouts[0], layouts[1], layouts[2], layouts[2], this.pref, 1, res, count));
    if (count.readInt32LE(0) < 1) checkCublas(`cublasLtMatmulAlgoGetHeuristic (no algorithm for ${key})`, 15);
    const plan = { desc, layouts, algo: res.subarray(0, 64) };
    this.plans.set(key, plan);
    return plan;
  }

  /** Enqueues C = A x B (+ bias) on the context's stream. Note our a is cuBLASLt's B (see ltGemmShape). */
  matmul(c: LtCall): void {
    const p = this.plan(c);
    if (c.bias !== null) checkCublas('cublasLtMatmulDescSetAttribute(BIAS_POINTER)', this.api.cublasLtMatmulDescSetAttribute(p.desc, DESC_BIAS_POINTER, i64(c.bias), 8));
    checkCublas('cublasLtMatmul',
      this.api.cublasLtMatmul(this.handle, p.desc, this.one, c.B, p.layouts[0], c.A, p.layouts[1], this.zero,
        c.C, p.layouts[2], c.C, p.layouts[2], p.algo, this.workspace, GEMM_WORKSPACE_BYTES, this.ctx.stream));
  }

  destroy(): void {
    for (const p of this.plans.values()) {
      this.api.cublasLtMatmulDescDestroy(p.desc);
      for (const l of p.layouts) this.api.cublasLtMatrixLayoutDestroy(l);
    }
    this.plans.clear();
    this.api.cublasLtMatmulPreferenceDestroy(this.pref);
    checkCublas('cublasLtDestroy', this.api.cublasLtDestroy(this.handle));
  }
}
