import { assertClose, assertExact, assertMap } from './compare.js';
import { type Check, readValues } from './case-context.js';
import { ConformanceError } from './conformance-error.js';
import { entriesNearTau } from './map-band.js';
import { fmtShape, shapeEquals } from '../shape.js';

/** Evaluates one check; throws a ConformanceError with a readable diff on mismatch. */
export async function verify(c: Check): Promise<void> {
  if (c.kind === 'zeroRows') {
    const out = await readValues(c.actual);
    const lse = await c.lse.toFloat32();
    const d = c.actual.shape[c.actual.rank - 1];
    for (let row = 0; row < lse.length; row++) {
      if (lse[row] !== -Infinity) continue;
      for (let i = 0; i < d; i++)
        if (out[row * d + i] !== 0) throw new ConformanceError(`${c.what}: row ${row} has no active key, its output must be 0, got ${out[row * d + i]} at channel ${i}`);
    }
    return;
  }
  const dtype = c.kind === 'close' ? c.dtype : c.expected.dtype;
  if (c.actual.dtype !== dtype) throw new ConformanceError(`${c.what}: dtype ${c.actual.dtype}, expected ${dtype}`);
  if (!shapeEquals(c.actual.shape, c.expected.shape))
    throw new ConformanceError(`${c.what}: shape ${fmtShape(c.actual.shape)}, expected ${fmtShape(c.expected.shape)}`);
  if (c.kind === 'exact') {
    assertExact(c.what, await c.actual.read(), await c.expected.read(), c.expected.shape);
    return;
  }
  const actual = await readValues(c.actual);
  const expected = await readValues(c.expected);
  if (c.kind === 'close') {
    assertClose(c.what, actual, expected, c.expected.shape, c.tol);
    return;
  }
  const geometry = { shape: c.expected.shape, blockSize: c.blockSize, tq: c.tq, tk: c.tk };
  let mismatch = false;
  for (let i = 0; i < expected.length && !mismatch; i++) mismatch = !Object.is(actual[i], expected[i]);
  // the float64 band is costly: count entries near tau only when the maps differ at all
  const allowed = mismatch ? entriesNearTau(await readValues(c.q), await readValues(c.k), c.q.shape, c.k.shape[2], c) : new Float64Array(expected.length);
  assertMap(c.what, actual, expected, geometry, allowed);
}
