import type {
  AttentionOptions, AttentionResult, Backend, LayerNormOptions, MatmulOptions, PatchOptions, ResidualLayerNormOptions, ResidualLayerNormResult, Rope3dOptions,
} from '../backend.js';
import { type DType, type HostArray, DTYPE_BYTES, allocHost } from '../dtype.js';
import { type Shape, numel } from '../shape.js';
import { Storage, Tensor } from '../tensor.js';
import { geluTanh, siluOf, softmax, unary } from './activations.js';
import { attention } from './attention.js';
import { checkTensor } from './checks.js';
import { cast, checkEmpty, checkUpload, concat, contiguous } from './copy.js';
import { binary, ternary } from './elementwise.js';
import { gatherRaw } from './host.js';
import { matmul } from './matmul.js';
import { layerNorm, residualThenLayerNorm, rmsNorm } from './norms.js';
import { patchify, unpatchify } from './patch.js';
import { rope3d } from './rope.js';

/**
 * The reference backend: plain TypeScript on host arrays, exact. Every op decodes its
 * inputs (any strided view), computes in float64 and rounds once (RNE) to the output
 * dtype. Storage handles are the dtype's host array (Float32Array for f32, Uint16Array
 * of raw bits for f16/bf16, Int32Array, Uint8Array). Single-threaded and synchronous.
 */
export class CpuBackend implements Backend {
  readonly name = 'cpu';
  readonly floatDTypes: readonly DType[] = ['f32', 'f16', 'bf16'];
  private live = 0;

  /** Storages allocated and not yet freed: lets tests prove that scopes and dispose release memory. */
  get liveStorages(): number {
    return this.live;
  }

  /** Wraps a host array (taken over, not copied) as a new contiguous tensor. */
  private readonly make = (data: HostArray, shape: Shape, dtype: DType): Tensor => {
    this.live++;
    const storage = new Storage(data, data.byteLength, () => {
      this.live--;
    });
    return new Tensor(this, storage, dtype, shape);
  };

  upload(data: HostArray, shape: Shape, dtype: DType): Tensor {
    const src = checkUpload(data, shape, dtype);
    return this.make(src.slice(), shape, dtype);
  }

  empty(shape: Shape, dtype: DType): Tensor {
    checkEmpty(shape, dtype);
    return this.make(allocHost(dtype, numel(shape)), shape, dtype);
  }

  async read(t: Tensor): Promise<HostArray> {
    checkTensor(this, 'read', 't', t);
    return gatherRaw(t);
  }

  async sync(): Promise<void> {}

  /** A contiguous copy of a view; an already contiguous tensor at offset 0 gets a new handle on the same storage. */
  contiguous(t: Tensor): Tensor {
    checkTensor(this, 'contiguous', 't', t);
    const whole = t.isContiguous && t.offset === 0 && t.size * DTYPE_BYTES[t.dtype] === t.storage.byteLength;
    return whole ? new Tensor(this, t.storage, t.dtype, t.shape) : contiguous(this, this.make, t);
  }

  cast(t: Tensor, dtype: DType): Tensor {
    return cast(this, this.make, t, dtype);
  }

  concat(ts: readonly Tensor[], axis: number): Tensor {
    return concat(this, this.make, ts, axis);
  }

  matmul(a: Tensor, b: Tensor, opts?: MatmulOptions): Tensor {
    return matmul(this, this.make, a, b, opts);
  }

  add(a: Tensor, b: Tensor): Tensor {
    return binary(this, this.make, 'add', a, b, (x, y) => x + y);
  }

  sub(a: Tensor, b: Tensor): Tensor {
    return binary(this, this.make, 'sub', a, b, (x, y) => x - y);
  }

  mul(a: Tensor, b: Tensor): Tensor {
    return binary(this, this.make, 'mul', a, b, (x, y) => x * y);
  }

  modulate(x: Tensor, scale: Tensor, shift: Tensor): Tensor {
    return ternary(this, this.make, 'modulate', ['x', 'scale', 'shift'], x, scale, shift, (v, s, b) => v * (1 + s) + b);
  }

  gatedAdd(x: Tensor, y: Tensor, gate: Tensor): Tensor {
    return ternary(this, this.make, 'gatedAdd', ['x', 'y', 'gate'], x, y, gate, (a, b, g) => a + b * g);
  }

  layerNorm(x: Tensor, opts: LayerNormOptions): Tensor {
    return layerNorm(this, this.make, x, opts);
  }

  residualLayerNorm(x: Tensor, y: Tensor, opts: ResidualLayerNormOptions): ResidualLayerNormResult {
    return residualThenLayerNorm(this, x, y, opts);
  }

  rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
    return rmsNorm(this, this.make, x, weight, eps);
  }

  gelu(x: Tensor): Tensor {
    return unary(this, this.make, 'gelu', x, geluTanh);
  }

  silu(x: Tensor): Tensor {
    return unary(this, this.make, 'silu', x, siluOf);
  }

  softmax(x: Tensor): Tensor {
    return softmax(this, this.make, x);
  }

  rope3d(x: Tensor, opts: Rope3dOptions): Tensor {
    return rope3d(this, this.make, x, opts);
  }

  patchify(x: Tensor, opts: PatchOptions): Tensor {
    return patchify(this, this.make, x, opts);
  }

  unpatchify(x: Tensor, grid: readonly [number, number, number], opts: PatchOptions): Tensor {
    return unpatchify(this, this.make, x, grid, opts);
  }

  attention(q: Tensor, k: Tensor, v: Tensor, opts?: AttentionOptions): AttentionResult {
    return attention(this, this.make, q, k, v, opts);
  }
}

let shared: CpuBackend | undefined;

/** The process-wide CpuBackend (created on first use). */
export function cpuBackend(): CpuBackend {
  shared ??= new CpuBackend();
  return shared;
}
