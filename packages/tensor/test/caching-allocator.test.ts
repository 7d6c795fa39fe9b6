import { describe, expect, it } from 'vitest';
import { CachingAllocator, sizeClass } from '../src/caching-allocator.js';

class OutOfMemory extends Error {}

describe('caching allocator', () => {
  it('rounds sizes into classes', () => {
    expect(sizeClass(1)).toBe(512);
    expect(sizeClass(513)).toBe(1024);
    expect(sizeClass((1 << 20) + 1)).toBe(2 << 20);
    expect(sizeClass(5 << 20)).toBe(6 << 20);
  });
  it('reuses released blocks of the same class and frees the cache on OOM', () => {
    let next = 0x1000n;
    const live = new Set<bigint>();
    let budget = 3;
    const alloc = new CachingAllocator<bigint>(
      {
        alloc: () => {
          if (live.size >= budget) throw new OutOfMemory();
          const p = (next += 0x1000n);
          live.add(p);
          return p;
        },
        free: (p) => live.delete(p),
      },
      { isOutOfMemory: (e) => e instanceof OutOfMemory },
    );
    const a = alloc.allocate(700);
    alloc.release(a);
    expect(alloc.allocate(1000).handle).toBe(a.handle);
    const b = alloc.allocate(100);
    const c = alloc.allocate(3000);
    alloc.release(b);
    expect(alloc.stats.cachedBytes).toBe(512);
    budget = 3;
    // a 4th distinct block only fits after the cached one goes back to the driver
    const d = alloc.allocate(5000);
    expect(live.has(b.handle)).toBe(false);
    expect(d.bytes).toBe(8192);
    expect(c.bytes).toBe(4096);
    alloc.release(d);
    expect(() => alloc.allocate(1 << 22)).not.toThrow();
  });

  it('rethrows errors that are not out-of-memory, and out-of-memory with nothing cached', () => {
    const failing = new CachingAllocator<number>({ alloc: () => { throw new Error('device lost'); }, free: () => {} }, { isOutOfMemory: () => true });
    expect(() => failing.allocate(10)).toThrow('device lost');
    const other = new CachingAllocator<number>({ alloc: () => { throw new OutOfMemory(); }, free: () => {} });
    expect(() => other.allocate(10)).toThrow(OutOfMemory);
  });

  it('tracks peak live and reserved bytes, and restarts them on resetPeak', () => {
    let next = 0n;
    const alloc = new CachingAllocator<bigint>({ alloc: () => (next += 0x1000n), free: () => {} });
    const a = alloc.allocate(3000); // 4096
    const b = alloc.allocate(9000); // 16384
    alloc.release(b);
    expect(alloc.stats).toMatchObject({ liveBytes: 4096, cachedBytes: 16384, peakLiveBytes: 20480, peakReservedBytes: 20480 });
    alloc.resetPeak();
    const c = alloc.allocate(700); // 1024, fresh: reserved grows past the reset point
    expect(alloc.stats).toMatchObject({ peakLiveBytes: 5120, peakReservedBytes: 21504 });
    alloc.release(a);
    alloc.release(c);
    expect(alloc.stats.peakLiveBytes).toBe(5120);
  });

  it('keeps at most maxCachedBytes, freeing the classes cached first', () => {
    let next = 0;
    const freed: number[] = [];
    const alloc = new CachingAllocator<number>({ alloc: () => ++next, free: (h) => freed.push(h) }, { maxCachedBytes: 12 << 10 });
    const [a, b, c] = [alloc.allocate(4000), alloc.allocate(4000), alloc.allocate(8000)]; // 4096, 4096, 8192
    const big = alloc.allocate(20000); // 32768: over the limit by itself
    alloc.release(a);
    alloc.release(b);
    expect(alloc.stats.cachedBytes).toBe(8192);
    alloc.release(c); // 8192 more: a's block (cached first) goes back to the driver
    expect(freed).toEqual([a.handle]);
    expect(alloc.stats.cachedBytes).toBe(12288);
    alloc.release(big);
    expect(freed).toEqual([a.handle, big.handle]);
    expect(alloc.allocate(4000).handle).toBe(b.handle);
    expect(alloc.allocate(8000).handle).toBe(c.handle);
    expect(alloc.stats).toMatchObject({ cachedBytes: 0, liveBytes: 12288 });
  });
});
