import { describe, expect, it } from 'vitest';
import { Rng, ShapeError } from '@mod-dit/tensor';
import { InvalidOptionError, predictFeatures, type Features } from '../src/index.js';

function randomFeatures(rng: Rng, heads: number, n: number, columnScale = 0.5): Features {
  const f64 = (len: number) => Float64Array.from(rng.normals(len));
  return { heads, n, diagonals: f64(heads * (2 * n - 1)), columns: f64(heads * n), tiles: f64(heads), columnScale };
}

describe('predictFeatures', () => {
  const rng = new Rng(21);
  const prev = randomFeatures(rng, 3, 7);
  const cur = randomFeatures(rng, 3, 7);

  it('faithful rule: cur + (cur - prev) / T for every diagonal and column; the tile weight is the current one', () => {
    for (const T of [10, 3]) {
      const p = predictFeatures(prev, cur, { interval: T });
      for (let i = 0; i < cur.diagonals.length; i++) expect(p.diagonals[i]).toBeCloseTo(cur.diagonals[i] + (cur.diagonals[i] - prev.diagonals[i]) / T, 12);
      for (let i = 0; i < cur.columns.length; i++) expect(p.columns[i]).toBeCloseTo(cur.columns[i] + (cur.columns[i] - prev.columns[i]) / T, 12);
      expect(Array.from(p.tiles)).toEqual(Array.from(cur.tiles));
    }
    // default T = 10
    expect(predictFeatures(prev, cur).columns[4]).toBeCloseTo(cur.columns[4] * 1.1 - prev.columns[4] * 0.1, 12);
  });

  it('step-distance rule: slope over the true distance, extrapolated by the horizon (default T / 2)', () => {
    const p = predictFeatures(prev, cur, { interval: 10, rule: { kind: 'step-distance', distance: 4, horizon: 3 } });
    for (let i = 0; i < cur.diagonals.length; i++) expect(p.diagonals[i]).toBeCloseTo(cur.diagonals[i] + ((cur.diagonals[i] - prev.diagonals[i]) / 4) * 3, 12);
    const q = predictFeatures(prev, cur, { interval: 10, rule: { kind: 'step-distance', distance: 1 } });
    for (let i = 0; i < cur.columns.length; i++) expect(q.columns[i]).toBeCloseTo(cur.columns[i] + (cur.columns[i] - prev.columns[i]) * 5, 12);
  });

  it('rejects mismatched histories and bad options', () => {
    expect(() => predictFeatures(randomFeatures(rng, 2, 7), cur)).toThrow(ShapeError);
    expect(() => predictFeatures(randomFeatures(rng, 3, 7, 1), cur)).toThrow(InvalidOptionError);
    expect(() => predictFeatures(prev, cur, { interval: 0 })).toThrow(InvalidOptionError);
    expect(() => predictFeatures(prev, cur, { rule: { kind: 'step-distance', distance: 0 } })).toThrow(/distance/);
  });
});
