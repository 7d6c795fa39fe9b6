/**
 * One kernel argument, as the kernel's C signature declares it. `dims` is the 8 x int64
 * `Dims` struct of ops.cu (shape or strides of a strided operand), padded with zeros.
 */
export type KernelArg =
  | { ptr: bigint }
  | { i32: number }
  | { u32: number }
  | { i64: number }
  | { f32: number }
  | { f64: number }
  | { dims: readonly number[] };

export const MAX_DIMS = 8;

/**
 * cuLaunchKernel's kernelParams: one buffer per argument holding its bytes (little-endian,
 * the C layout of that type). The driver copies them at launch, so the buffers may die after.
 */
export function packArgs(args: readonly KernelArg[]): Buffer[] {
  return args.map((a) => {
    if ('ptr' in a) {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(a.ptr);
      return b;
    }
    if ('i32' in a) {
      const b = Buffer.alloc(4);
      b.writeInt32LE(a.i32);
      return b;
    }
    if ('u32' in a) {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(a.u32);
      return b;
    }
    if ('i64' in a) {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(BigInt(a.i64));
      return b;
    }
    if ('f32' in a) {
      const b = Buffer.alloc(4);
      b.writeFloatLE(a.f32);
      return b;
    }
    if ('f64' in a) {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(a.f64);
      return b;
    }
    if (a.dims.length > MAX_DIMS) throw new RangeError(`kernel Dims argument has ${a.dims.length} entries, at most ${MAX_DIMS}`);
    const b = Buffer.alloc(8 * MAX_DIMS);
    a.dims.forEach((d, i) => b.writeBigInt64LE(BigInt(d), 8 * i));
    return b;
  });
}

/** A null device pointer, for optional kernel operands. */
export const NULL_PTR: KernelArg = { ptr: 0n };
