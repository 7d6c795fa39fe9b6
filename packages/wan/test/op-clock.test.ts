import { describe, expect, it } from 'vitest';
import { OpClock } from '../src/op-clock.js';

describe('OpClock', () => {
  it('drains the device before and after each timed op when given a barrier', () => {
    const events: string[] = [];
    const clock = new OpClock(() => events.push('barrier'));
    const r = clock.time('gemm', () => {
      events.push('op');
      return 7;
    });
    expect(r).toBe(7);
    expect(events).toEqual(['barrier', 'op', 'barrier']);
    expect(clock.ms.gemm).toBeGreaterThanOrEqual(0);
  });

  it('books the barrier wait inside the category, and books failures too', () => {
    let spin = 0;
    const clock = new OpClock(() => {
      const t = performance.now();
      while (performance.now() - t < 3) spin++;
    });
    expect(() => clock.time('self-attention', () => { throw new Error('boom'); })).toThrow('boom');
    expect(clock.ms['self-attention']).toBeGreaterThanOrEqual(3);
    expect(clock.ms.gemm).toBe(0);
    expect(spin).toBeGreaterThan(0);
  });
});
