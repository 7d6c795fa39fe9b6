import { CudaError } from './cuda-error.js';

/** Device memory primitives the allocator sits on (cuMemAlloc / cuMemFree in production). */
export interface RawDeviceMemory {
  alloc(bytes: number): bigint;
  free(ptr: bigint): void;
}

/** A device allocation handed out by {@link CachingAllocator}. */
export interface DeviceBlock {
  readonly ptr: bigint;
  /** Rounded size actually reserved. */
  readonly bytes: number;
}

const SMALL_LIMIT = 1 << 20;
const LARGE_GRANULE = 2 << 20;

/**
 * Size class of a request: powers of two up to 1 MiB (min 512 B), 2 MiB multiples above.
 * Large tensors thus waste < 2 MiB while small ones are reused freely.
 */
export function sizeClass(bytes: number): number {
  if (bytes <= 512) return 512;
  if (bytes <= SMALL_LIMIT) return 2 ** Math.ceil(Math.log2(bytes));
  return Math.ceil(bytes / LARGE_GRANULE) * LARGE_GRANULE;
}

/**
 * Caches freed blocks by size class. All work runs on one stream, so a block released
 * while kernels still read it can be handed to a later op safely: that op is queued behind them.
 * On out-of-memory the cache is returned to the driver and the allocation retried once.
 */
export class CachingAllocator {
  private readonly cache = new Map<number, bigint[]>();
  private cachedBytes = 0;
  private liveBytes = 0;
  private peakLive = 0;
  private peakReserved = 0;

  constructor(private readonly raw: RawDeviceMemory) {}

  allocate(bytes: number): DeviceBlock {
    const size = sizeClass(Math.max(1, bytes));
    const hit = this.cache.get(size)?.pop();
    if (hit !== undefined) {
      this.cachedBytes -= size;
      this.liveBytes += size;
      this.notePeak();
      return { ptr: hit, bytes: size };
    }
    let ptr: bigint;
    try {
      ptr = this.raw.alloc(size);
    } catch (e) {
      if (!(e instanceof CudaError && e.cudaName === 'CUDA_ERROR_OUT_OF_MEMORY') || this.cachedBytes === 0) throw e;
      this.emptyCache();
      ptr = this.raw.alloc(size);
    }
    this.liveBytes += size;
    this.notePeak();
    return { ptr, bytes: size };
  }

  release(block: DeviceBlock): void {
    let list = this.cache.get(block.bytes);
    if (!list) this.cache.set(block.bytes, (list = []));
    list.push(block.ptr);
    this.cachedBytes += block.bytes;
    this.liveBytes -= block.bytes;
  }

  /** Returns every cached block to the driver. */
  emptyCache(): void {
    for (const list of this.cache.values()) for (const p of list) this.raw.free(p);
    this.cache.clear();
    this.cachedBytes = 0;
  }

  private notePeak(): void {
    this.peakLive = Math.max(this.peakLive, this.liveBytes);
    this.peakReserved = Math.max(this.peakReserved, this.liveBytes + this.cachedBytes);
  }

  /** Restarts the peak counters at the current usage (e.g. before a run). */
  resetPeak(): void {
    this.peakLive = this.liveBytes;
    this.peakReserved = this.liveBytes + this.cachedBytes;
  }

  /** Bytes in live blocks and in the cache, and their peaks since construction or `resetPeak()`. */
  get stats(): { liveBytes: number; cachedBytes: number; peakLiveBytes: number; peakReservedBytes: number } {
    return { liveBytes: this.liveBytes, cachedBytes: this.cachedBytes, peakLiveBytes: this.peakLive, peakReservedBytes: this.peakReserved };
  }
}
