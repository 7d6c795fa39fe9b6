import { checkCu } from './cuda-error.js';
import { bindLibrary } from './native-library.js';

/** Driver API entry points this backend calls; handles and device pointers are BigInt. */
export interface DriverApi {
  cuInit(flags: number): number;
  cuDeviceGetCount(count: Buffer): number;
  cuDeviceGet(dev: Buffer, ordinal: number): number;
  cuDeviceGetAttribute(value: Buffer, attrib: number, dev: number): number;
  cuDeviceGetName(name: Buffer, len: number, dev: number): number;
  cuDevicePrimaryCtxRetain(ctx: Buffer, dev: number): number;
  cuDevicePrimaryCtxRelease_v2(dev: number): number;
  cuCtxSetCurrent(ctx: bigint): number;
  cuStreamCreate(stream: Buffer, flags: number): number;
  cuStreamSynchronize(stream: bigint): number;
  cuStreamDestroy_v2(stream: bigint): number;
  cuStreamWaitEvent(stream: bigint, event: bigint, flags: number): number;
  cuEventCreate(event: Buffer, flags: number): number;
  cuEventRecord(event: bigint, stream: bigint): number;
  cuEventSynchronize(event: bigint): number;
  cuEventQuery(event: bigint): number;
  cuEventElapsedTime(ms: Buffer, start: bigint, end: bigint): number;
  cuEventDestroy_v2(event: bigint): number;
  cuModuleLoadData(module: Buffer, image: Buffer): number;
  cuModuleUnload(module: bigint): number;
  cuModuleGetFunction(fn: Buffer, module: bigint, name: string): number;
  cuFuncSetAttribute(fn: bigint, attrib: number, value: number): number;
  cuMemAlloc_v2(ptr: Buffer, bytes: number): number;
  cuMemFree_v2(ptr: bigint): number;
  cuMemGetInfo_v2(free: Buffer, total: Buffer): number;
  cuMemcpyHtoDAsync_v2(dst: bigint, src: ArrayBufferView, bytes: number, stream: bigint): number;
  cuMemcpyDtoHAsync_v2(dst: ArrayBufferView, src: bigint, bytes: number, stream: bigint): number;
  cuMemsetD8Async(dst: bigint, value: number, bytes: number, stream: bigint): number;
  cuLaunchKernel(
    fn: bigint, gx: number, gy: number, gz: number, bx: number, by: number, bz: number,
    smem: number, stream: bigint, params: Buffer[], extra: null,
  ): number;
}

const SIGNATURES = [
  'int cuInit(unsigned int flags)',
  'int cuDeviceGetCount(void *count)',
  'int cuDeviceGet(void *dev, int ordinal)',
  'int cuDeviceGetAttribute(void *value, int attrib, int dev)',
  'int cuDeviceGetName(void *name, int len, int dev)',
  'int cuDevicePrimaryCtxRetain(void *ctx, int dev)',
  'int cuDevicePrimaryCtxRelease_v2(int dev)',
  'int cuCtxSetCurrent(void *ctx)',
  'int cuStreamCreate(void *stream, unsigned int flags)',
  'int cuStreamSynchronize(void *stream)',
  'int cuStreamDestroy_v2(void *stream)',
  'int cuStreamWaitEvent(void *stream, void *event, unsigned int flags)',
  'int cuEventCreate(void *event, unsigned int flags)',
  'int cuEventRecord(void *event, void *stream)',
  'int cuEventSynchronize(void *event)',
  'int cuEventQuery(void *event)',
  'int cuEventElapsedTime(void *ms, void *start, void *end)',
  'int cuEventDestroy_v2(void *event)',
  'int cuModuleLoadData(void *module, void *image)',
  'int cuModuleUnload(void *module)',
  'int cuModuleGetFunction(void *fn, void *module, const char *name)',
  'int cuFuncSetAttribute(void *fn, int attrib, int value)',
  'int cuMemAlloc_v2(void *ptr, size_t bytes)',
  'int cuMemFree_v2(uint64_t ptr)',
  'int cuMemGetInfo_v2(void *free, void *total)',
  'int cuMemcpyHtoDAsync_v2(uint64_t dst, void *src, size_t bytes, void *stream)',
  'int cuMemcpyDtoHAsync_v2(void *dst, uint64_t src, size_t bytes, void *stream)',
  'int cuMemsetD8Async(uint64_t dst, uint8_t value, size_t bytes, void *stream)',
  'int cuLaunchKernel(void *fn, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by, unsigned int bz, unsigned int smem, void *stream, void **params, void **extra)',
];

/** Loads libcuda.so.1 and binds the entry points; throws (koffi's error) where there is no driver. */
export function loadDriver(path = 'libcuda.so.1'): DriverApi {
  return bindLibrary<DriverApi>(path, SIGNATURES);
}

export const CU_DEVICE_ATTRIBUTE = {
  MULTIPROCESSOR_COUNT: 16,
  COMPUTE_CAPABILITY_MAJOR: 75,
  COMPUTE_CAPABILITY_MINOR: 76,
  MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: 97,
} as const;

/** CU_EVENT_DISABLE_TIMING: a pure ordering marker, the cheapest kind of event. */
const CU_EVENT_DISABLE_TIMING = 2;
const CUDA_SUCCESS = 0;
/** cuEventQuery's answer while the event's work is still running. */
const CUDA_ERROR_NOT_READY = 600;

/** CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES */
export const CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED = 8;

/** A handle or device pointer the driver wrote into an 8-byte out-parameter. */
export function readHandle(buf: Buffer): bigint {
  return buf.readBigUInt64LE(0);
}

/** What the backend knows about its GPU. */
export interface DeviceInfo {
  name: string;
  computeCapability: readonly [number, number];
  multiprocessors: number;
  maxSharedPerBlock: number;
}

/**
 * One GPU's primary context, made current on this thread, and one stream all work goes to;
 * plus a read-back stream, so that a read waits for the work that produced its data and not
 * for the work enqueued after it (a host can fit one layer's sparsity map while the next runs).
 * Reads and syncs wait without blocking the thread: other async work (the other guidance
 * branch's forward) keeps enqueueing meanwhile.
 */
export class CudaContext {
  readonly info: DeviceInfo;
  readonly stream: bigint;
  private readonly readStream: bigint;
  private readonly ctx: bigint;

  constructor(readonly api: DriverApi, readonly ordinal = 0) {
    checkCu('cuInit', api.cuInit(0));
    const count = Buffer.alloc(4);
    checkCu('cuDeviceGetCount', api.cuDeviceGetCount(count));
    if (ordinal >= count.readInt32LE(0)) checkCu(`cuDeviceGet(${ordinal})`, 101);
    const dev = Buffer.alloc(4);
    checkCu('cuDeviceGet', api.cuDeviceGet(dev, ordinal));
    const d = dev.readInt32LE(0);
    const attr = (a: number): number => {
      const v = Buffer.alloc(4);
      checkCu('cuDeviceGetAttribute', api.cuDeviceGetAttribute(v, a, d));
      return v.readInt32LE(0);
    };
    const name = Buffer.alloc(256);
    checkCu('cuDeviceGetName', api.cuDeviceGetName(name, 256, d));
    this.info = {
      name: name.toString('utf8', 0, name.indexOf(0)),
      computeCapability: [attr(CU_DEVICE_ATTRIBUTE.COMPUTE_CAPABILITY_MAJOR), attr(CU_DEVICE_ATTRIBUTE.COMPUTE_CAPABILITY_MINOR)],
      multiprocessors: attr(CU_DEVICE_ATTRIBUTE.MULTIPROCESSOR_COUNT),
      maxSharedPerBlock: attr(CU_DEVICE_ATTRIBUTE.MAX_SHARED_MEMORY_PER_BLOCK_OPTIN),
    };
    const ctx = Buffer.alloc(8);
    checkCu('cuDevicePrimaryCtxRetain', api.cuDevicePrimaryCtxRetain(ctx, d));
    this.ctx = readHandle(ctx);
    checkCu('cuCtxSetCurrent', api.cuCtxSetCurrent(this.ctx));
    const stream = Buffer.alloc(8);
    // CU_STREAM_NON_BLOCKING: no implicit sync with the legacy default stream cuBLASLt might touch
    checkCu('cuStreamCreate', api.cuStreamCreate(stream, 1));
    this.stream = readHandle(stream);
    checkCu('cuStreamCreate(read)', api.cuStreamCreate(stream, 1));
    this.readStream = readHandle(stream);
  }

  /**
   * Copies `bytes` from device address `src` into `dst`, resolving once they are there: after
   * `ready` (an event recorded where the data was complete) has fired, or by default after all
   * work enqueued so far on the main stream. The copy itself (into pageable memory, so
   * synchronous) is issued only then, on the read-back stream.
   */
  async readToHost(dst: ArrayBufferView, src: bigint, bytes: number, ready?: bigint): Promise<void> {
    if (ready === undefined) await this.drained();
    else await this.fired(ready);
    checkCu('cuMemcpyDtoHAsync', this.api.cuMemcpyDtoHAsync_v2(dst, src, bytes, this.readStream));
    checkCu('cuStreamSynchronize(read)', this.api.cuStreamSynchronize(this.readStream));
  }

  /** Resolves once the work enqueued so far on the main stream is done, without blocking the thread. */
  async drained(): Promise<void> {
    const e = this.markNow();
    try {
      await this.fired(e);
    } finally {
      this.destroyEvent(e);
    }
  }

  /** Polls `event`, yielding to the event loop between polls, until it has fired. */
  private async fired(event: bigint): Promise<void> {
    for (;;) {
      const rc = this.api.cuEventQuery(event);
      if (rc === CUDA_SUCCESS) return;
      if (rc !== CUDA_ERROR_NOT_READY) checkCu('cuEventQuery', rc);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** An event recorded now on the main stream: it fires when the work enqueued so far is done. */
  markNow(): bigint {
    const out = Buffer.alloc(8);
    checkCu('cuEventCreate', this.api.cuEventCreate(out, CU_EVENT_DISABLE_TIMING));
    const event = readHandle(out);
    checkCu('cuEventRecord', this.api.cuEventRecord(event, this.stream));
    return event;
  }

  /** Destroys an event from {@link markNow}. */
  destroyEvent(event: bigint): void {
    checkCu('cuEventDestroy', this.api.cuEventDestroy_v2(event));
  }

  synchronize(): void {
    checkCu('cuStreamSynchronize', this.api.cuStreamSynchronize(this.stream));
  }

  destroy(): void {
    checkCu('cuStreamDestroy(read)', this.api.cuStreamDestroy_v2(this.readStream));
    checkCu('cuStreamDestroy', this.api.cuStreamDestroy_v2(this.stream));
    checkCu('cuDevicePrimaryCtxRelease', this.api.cuDevicePrimaryCtxRelease_v2(this.ordinal));
  }
}
