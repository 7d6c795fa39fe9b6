/**
 * Builds a kernel's uniform block as consecutive 4-byte scalars (u32, i32 or f32), the
 * layout of a WGSL struct of scalar fields. `vec4Array` pads to 16 bytes first, as
 * `array<vec4<u32>, N>` members require.
 */
export class UniformParams {
  private readonly words: number[] = [];
  private readonly kinds: ('u' | 'f')[] = [];

  /** Appends u32 values; negative numbers wrap (two's complement), as relative offsets do. */
  u32(...values: number[]): this {
    for (const v of values) {
      this.words.push(v >>> 0);
      this.kinds.push('u');
    }
    return this;
  }

  f32(...values: number[]): this {
    for (const v of values) {
      this.words.push(v);
      this.kinds.push('f');
    }
    return this;
  }

  /** Pads to a 16-byte boundary, then appends `values` padded to a multiple of 4 words. */
  vec4Array(values: readonly number[], vec4s: number): this {
    while (this.words.length % 4) this.u32(0);
    for (let i = 0; i < vec4s * 4; i++) this.u32(values[i] ?? 0);
    return this;
  }

  build(): ArrayBuffer {
    const buf = new ArrayBuffer(Math.max(16, Math.ceil(this.words.length / 4) * 16));
    const u = new Uint32Array(buf);
    const f = new Float32Array(buf);
    this.words.forEach((w, i) => {
      if (this.kinds[i] === 'f') f[i] = w;
      else u[i] = w;
    });
    return buf;
  }
}
