import { EvalConfigError } from './eval-error.js';
import { Raster, type Rgb } from './raster.js';

/** One head at one step: the dense attention mass and the mask that was used, over the drawn query blocks. */
export interface HeatmapCell {
  /** [rows, cols] dense softmax mass per block (any positive scale; each query-block row is normalised). */
  mass: Float64Array;
  /** [rows, cols] 0/1 mask. */
  mask: Uint8Array;
}

/** Input of {@link maskHeatmapFigure}: a grid of cells, rows (heads) x columns (steps). */
export interface HeatmapFigureInput {
  title: string;
  /** Query blocks drawn per cell (all, or the evaluated sample). */
  rows: number;
  /** Key blocks per cell. */
  cols: number;
  rowLabels: readonly string[];
  columnLabels: readonly string[];
  cells: readonly (readonly HeatmapCell[])[];
}

const LABEL = 2; // font scale
const GAP = 8;

/**
 * Mask heatmaps per head over steps: each block is green when the mask computes it (bright
 * = much attention mass), red when the mask skips it although it holds mass (missed
 * recall), black when skipped and empty. Intensity is log10 of the block's share of its
 * query-block row over three decades.
 */
export function maskHeatmapFigure(input: HeatmapFigureInput): Raster {
  const { rows: qn, cols: kn } = input;
  const rows = input.cells.length;
  const cols = input.columnLabels.length;
  if (rows !== input.rowLabels.length || input.cells.some((r) => r.length !== cols))
    throw new EvalConfigError(`heatmap: ${rows} rows x ${cols} columns of labels do not match the cells`);
  // cells about 160 px square: a sampled run's few query rows are drawn tall
  const pw = Math.max(1, Math.floor(160 / kn));
  const ph = Math.max(1, Math.floor(160 / qn));
  const side = kn * pw;
  const tall = qn * ph;
  const left = Math.max(...input.rowLabels.map((l) => Raster.textWidth(l, LABEL))) + GAP * 2;
  const top = 2 * (7 * LABEL + GAP) + GAP;
  const bottom = 7 * LABEL + GAP * 2;
  const width = Math.max(left + cols * (side + GAP) + GAP, Raster.textWidth(input.title, LABEL) + 2 * GAP);
  const img = new Raster(width, top + rows * (tall + GAP) + bottom, [255, 255, 255]);
  img.text(GAP, GAP, input.title, [0, 0, 0], LABEL);
  input.columnLabels.forEach((l, c) => img.text(left + c * (side + GAP), top - 7 * LABEL - GAP / 2, l, [0, 0, 0], LABEL));
  for (let r = 0; r < rows; r++) {
    const y0 = top + r * (tall + GAP);
    img.text(GAP, y0 + Math.floor(tall / 2) - 7, input.rowLabels[r], [0, 0, 0], LABEL);
    for (let c = 0; c < cols; c++) {
      const { mass, mask } = input.cells[r][c];
      if (mass.length !== qn * kn || mask.length !== qn * kn) throw new EvalConfigError(`heatmap cell (${r}, ${c}): expected ${qn} x ${kn} blocks`);
      const x0 = left + c * (side + GAP);
      for (let I = 0; I < qn; I++) {
        let rowSum = 0;
        for (let J = 0; J < kn; J++) rowSum += mass[I * kn + J];
        for (let J = 0; J < kn; J++) {
          const share = rowSum > 0 ? mass[I * kn + J] / rowSum : 0;
          const v = share > 0 ? Math.min(1, Math.max(0, 1 + Math.log10(share) / 3)) : 0;
          const colour: Rgb = mask[I * kn + J] ? [0, Math.round(60 + 195 * v), Math.round(30 + 90 * v)] : [Math.round(255 * v), Math.round(30 * v), Math.round(30 * v)];
          img.rect(x0 + J * pw, y0 + I * ph, pw, ph, colour);
        }
      }
    }
  }
  img.text(GAP, img.height - 7 * LABEL - GAP, 'GREEN: COMPUTED  RED: MASS MISSED  BRIGHTNESS: LOG10 BLOCK SHARE OF ROW', [60, 60, 60], LABEL);
  return img;
}
