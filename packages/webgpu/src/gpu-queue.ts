import { ModDitError, UnsupportedFeatureError } from '@mod-dit/tensor';
import type { KernelCache, KernelSpec } from './kernel-cache.js';

/** Dispatches recorded into one command encoder before a submit (bounds pending uniform buffers). */
const MAX_PENDING = 64;

/** Largest workgroup count per grid dimension WebGPU guarantees. */
export const MAX_GROUPS_PER_DIM = 65535;

/**
 * Records compute dispatches into a shared encoder and submits them in batches. Uniform
 * parameters live in small buffers filled at creation, so recording order needs no
 * queue writes. Validation errors from the device surface as ModDitError on the next flush.
 */
export class GpuQueue {
  private encoder: GPUCommandEncoder | undefined;
  private pending = 0;
  /** Buffers only the recorded dispatches use (uniforms, mask CSR): destroyed once submitted. */
  private transient: GPUBuffer[] = [];
  private error: string | undefined;
  /** GPU timing in progress (timestamp-query): every compute pass writes its begin and end. */
  private timing: { set: GPUQuerySet; used: number; marks: number[] } | undefined;

  constructor(
    readonly device: GPUDevice,
    private readonly kernels: KernelCache,
    /** Called when a device error is about to be thrown (the backend drops its buffer cache: an out-of-memory buffer may sit in it). */
    private readonly onError?: () => void,
  ) {
    device.addEventListener?.('uncapturederror', (ev) => {
      this.error ??= (ev as GPUUncapturedErrorEvent).error.message;
    });
  }

  /** Records one dispatch of `spec` over `groups` workgroups (x may exceed 65535: it wraps into y). */
  dispatch(spec: KernelSpec, buffers: readonly GPUBufferBinding[], params: ArrayBuffer, groups: readonly [number, number?, number?]): void {
    const pipeline = this.kernels.pipeline(spec);
    const size = Math.max(16, Math.ceil(params.byteLength / 16) * 16);
    const ubuf = this.device.createBuffer({ size, usage: GPUBufferUsage.UNIFORM, mappedAtCreation: true });
    new Uint8Array(ubuf.getMappedRange()).set(new Uint8Array(params));
    ubuf.unmap();
    this.transient.push(ubuf);
    const entries: GPUBindGroupEntry[] = buffers.map((b, i) => ({ binding: i, resource: b }));
    entries.push({ binding: buffers.length, resource: { buffer: ubuf } });
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    this.encoder ??= this.device.createCommandEncoder();
    const pass = this.encoder.beginComputePass(this.timing ? { timestampWrites: this.timestampWrites(this.timing) } : undefined);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    const [gx, gy = 1, gz = 1] = groups;
    const x = Math.min(gx, MAX_GROUPS_PER_DIM);
    pass.dispatchWorkgroups(x, gy * Math.ceil(gx / x), gz);
    pass.end();
    if (++this.pending >= MAX_PENDING) this.flush();
  }

  /**
   * Starts GPU timing: from now on every compute pass records timestamps, `mark()` opens a
   * new timed call and `stopTiming()` returns each call's GPU time. Needs 'timestamp-query'.
   */
  startTiming(maxPasses: number): void {
    if (!this.device.features.has('timestamp-query')) throw new UnsupportedFeatureError("webgpu: GPU timing needs the 'timestamp-query' feature, which this device lacks");
    this.flush();
    this.timing?.set.destroy();
    this.timing = { set: this.device.createQuerySet({ type: 'timestamp', count: 2 * maxPasses }), used: 0, marks: [] };
  }

  /** Starts a new timed call: the passes recorded from here to the next mark belong to it. */
  mark(): void {
    if (!this.timing) throw new ModDitError('E_WEBGPU', 'webgpu: mark() outside startTiming()/stopTiming()');
    this.timing.marks.push(this.timing.used);
  }

  /**
   * Ends GPU timing: per marked call, milliseconds from the start of its first compute pass to
   * the end of its last (gaps between its passes included; calls without passes give 0).
   */
  async stopTiming(): Promise<number[]> {
    const t = this.timing;
    if (!t) throw new ModDitError('E_WEBGPU', 'webgpu: stopTiming() without startTiming()');
    this.timing = undefined;
    const bytes = Math.max(8, t.used * 8);
    const resolved = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.encoder ??= this.device.createCommandEncoder();
    if (t.used) this.encoder.resolveQuerySet(t.set, 0, t.used, resolved, 0);
    this.encoder.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
    try {
      await this.drain();
      await staging.mapAsync(GPUMapMode.READ);
      const ns = new BigInt64Array(staging.getMappedRange().slice(0));
      return t.marks.map((start, i) => {
        const end = t.marks[i + 1] ?? t.used;
        return end > start ? Number(ns[end - 1] - ns[start]) / 1e6 : 0;
      });
    } finally {
      for (const b of [resolved, staging]) b.destroy();
      t.set.destroy();
    }
  }

  private timestampWrites(t: { set: GPUQuerySet; used: number }): GPUComputePassTimestampWrites {
    if (t.used + 2 > t.set.count) throw new ModDitError('E_WEBGPU', `webgpu: more than ${t.set.count / 2} compute passes in one timing; pass a larger maxPasses to startTiming()`);
    const w = { querySet: t.set, beginningOfPassWriteIndex: t.used, endOfPassWriteIndex: t.used + 1 };
    t.used += 2;
    return w;
  }

  /** Destroys `buffer` after the dispatches recorded so far are submitted. */
  release(buffer: GPUBuffer): void {
    this.transient.push(buffer);
  }

  /** Records a buffer-to-buffer copy. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
    this.pending++;
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (this.encoder) {
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = undefined;
      this.pending = 0;
    }
    // destroy() lets the submitted work that uses them finish first
    for (const b of this.transient) b.destroy();
    this.transient = [];
  }

  /** Submits and waits for the device; throws the first device error seen since the last check. */
  async drain(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwPending();
  }

  throwPending(): void {
    if (this.error !== undefined) {
      const msg = this.error;
      this.error = undefined;
      this.onError?.();
      throw new ModDitError('E_WEBGPU', `webgpu device error: ${msg}`);
    }
  }
}

/** WGSL prelude giving the linear workgroup index of a dispatch whose x was wrapped into y. */
export const WGSL_GROUP_INDEX = /* wgsl */ `fn group_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.y * nwg.x + wid.x; }\n`;
