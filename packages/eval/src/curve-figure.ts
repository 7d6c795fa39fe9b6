import { EvalConfigError } from './eval-error.js';
import { Raster, type Rgb } from './raster.js';

/** One method on a recall-vs-density plot: a curve (sweep) or a single marker. */
export interface CurveSeries {
  name: string;
  colour: Rgb;
  /** (density, recall) pairs, sorted by density for curves. */
  points: readonly (readonly [number, number])[];
  /** Draw markers only (a method with one operating point). */
  markers?: boolean;
}

const W = 640;
const H = 420;
const PAD = 56;
const LEGEND = 300;

/** Recall (y) against density (x, 0..1) for several methods; the y range starts at the lowest recall rounded down to 0.1. */
export function recallCurveFigure(title: string, series: readonly CurveSeries[]): Raster {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) throw new EvalConfigError('recall curve: no points to plot');
  const yMin = Math.max(0, Math.floor(Math.min(...all.map((p) => p[1])) * 10) / 10 - (Math.min(...all.map((p) => p[1])) === 1 ? 0.1 : 0));
  const img = new Raster(W + LEGEND, H + PAD * 2);
  const x = (d: number) => PAD + d * W;
  const y = (r: number) => PAD + H - ((r - yMin) / (1 - yMin)) * H;
  img.text(PAD, 12, title, [0, 0, 0], 2);
  for (let t = 0; t <= 10; t++) {
    const d = t / 10;
    img.line(x(d), y(yMin), x(d), y(1), [225, 225, 225]);
    img.text(x(d) - 9, y(yMin) + 8, d.toFixed(1), [0, 0, 0]);
    const r = yMin + ((1 - yMin) * t) / 10;
    img.line(x(0), y(r), x(1), y(r), [225, 225, 225]);
    img.text(PAD - 34, y(r) - 3, r.toFixed(2), [0, 0, 0]);
  }
  img.line(x(0), y(yMin), x(1), y(yMin), [0, 0, 0]);
  img.line(x(0), y(yMin), x(0), y(1), [0, 0, 0]);
  img.text(x(0.5) - 30, y(yMin) + 24, 'DENSITY', [0, 0, 0]);
  img.text(4, PAD - 16, 'RECALL', [0, 0, 0]);
  series.forEach((s, i) => {
    const pts = s.points;
    // later markers are smaller, so methods at the same point stay visible as nested squares
    const size = Math.max(5, 15 - 2 * i);
    if (s.markers) for (const [d, r] of pts) img.rect(x(d) - (size >> 1), y(r) - (size >> 1), size, size, s.colour);
    else for (let p = 1; p < pts.length; p++) img.line(x(pts[p - 1][0]), y(pts[p - 1][1]), x(pts[p][0]), y(pts[p][1]), s.colour, 2);
    const ly = PAD + i * 22;
    img.rect(W + PAD + 8, ly, 14, 10, s.colour);
    img.text(W + PAD + 28, ly + 1, s.name, [0, 0, 0]);
  });
  return img;
}
