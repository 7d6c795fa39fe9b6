/** Device memory primitives the allocator sits on (cuMemAlloc / cuMemFree, GPUDevice.createBuffer / GPUBuffer.destroy). */
export interface RawDeviceMemory<H> {
  alloc(bytes: number): H;
  free(handle: H): void;
}

/** A device allocation handed out by {@link CachingAllocator}. */
export interface DeviceBlock<H> {
  /** The device memory: a CUdeviceptr, a GPUBuffer... */
  readonly handle: H;
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

/** Bytes in live blocks and in the cache, and their peaks since construction or the last peak reset. */
export interface MemoryStats {
  liveBytes: number;
  cachedBytes: number;
  peakLiveBytes: number;
  peakReservedBytes: number;
}

/** Options of {@link CachingAllocator}. */
export interface CachingAllocatorOptions {
  /** Whether an error thrown by `raw.alloc` means out of memory (then the cache is freed and the allocation retried once). */
  isOutOfMemory?: (e: unknown) => boolean;
  /** Most bytes the cache keeps (default: no limit); past it, the size classes cached first give way. */
  maxCachedBytes?: number;
}

/**
 * Caches freed blocks by size class, for backends whose work runs in order on one stream or
 * queue: a block released while kernels still read it can be handed to a later op safely, that
 * op is queued behind them. Where `raw.alloc` throws an error that `isOutOfMemory` accepts, the
 * cache is returned to the driver and the allocation retried once.
 */
export class CachingAllocator<H> {
  private readonly cache = new Map<number, H[]>();
  private cachedBytes = 0;
  private liveBytes = 0;
  private peakLive = 0;
  private peakReserved = 0;

  private readonly isOutOfMemory: (e: unknown) => boolean;
  private readonly maxCachedBytes: number;

  constructor(
    private readonly raw: RawDeviceMemory<H>,
    opts: CachingAllocatorOptions = {},
  ) {
    this.isOutOfMemory = opts.isOutOfMemory ?? (() => false);
    this.maxCachedBytes = opts.maxCachedBytes ?? Infinity;
  }

  allocate(bytes: number): DeviceBlock<H> {
    const size = sizeClass(Math.max(1, bytes));
    const hit = this.cache.get(size)?.pop();
    if (hit !== undefined) {
      this.cachedBytes -= size;
      this.liveBytes += size;
      this.notePeak();
      return { handle: hit, bytes: size };
    }
    let handle: H;
    try {
      handle = this.raw.alloc(size);
    } catch (e) {
      if (!this.isOutOfMemory(e) || this.cachedBytes === 0) throw e;
      this.emptyCache();
      handle = this.raw.alloc(size);
    }
    this.liveBytes += size;
    this.notePeak();
    return { handle, bytes: size };
  }

  release(block: DeviceBlock<H>): void {
    this.liveBytes -= block.bytes;
    if (block.bytes > this.maxCachedBytes) {
      this.raw.free(block.handle);
      return;
    }
    for (const [size, cached] of this.cache) {
      while (cached.length > 0 && this.cachedBytes + block.bytes > this.maxCachedBytes) {
        this.raw.free(cached.shift() as H);
        this.cachedBytes -= size;
      }
      if (cached.length === 0) this.cache.delete(size);
      if (this.cachedBytes + block.bytes <= this.maxCachedBytes) break;
    }
    let list = this.cache.get(block.bytes);
    if (!list) this.cache.set(block.bytes, (list = []));
    list.push(block.handle);
    this.cachedBytes += block.bytes;
  }

  /** Returns every cached block to the driver. */
  emptyCache(): void {
    for (const list of this.cache.values()) for (const h of list) this.raw.free(h);
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
  get stats(): MemoryStats {
    return { liveBytes: this.liveBytes, cachedBytes: this.cachedBytes, peakLiveBytes: this.peakLive, peakReservedBytes: this.peakReserved };
  }
}
