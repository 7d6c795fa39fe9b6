import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { recallCurveFigure } from './curve-figure.js';
import type { EvalReport, HeatmapData } from './evaluation.js';
import { maskHeatmapFigure } from './heatmap-figure.js';
import { encodePng } from './png.js';
import type { Raster, Rgb } from './raster.js';
import { stepTable, summaryTable } from './summary-table.js';

const BASELINE_COLOURS: Record<string, Rgb> = { oracle: [0, 0, 0], window: [230, 140, 0], svg: [0, 150, 200] };
const VARIANT_COLOURS: Rgb[] = [[220, 0, 0], [150, 0, 200], [0, 160, 60], [120, 80, 0], [240, 0, 160], [90, 90, 90]];

/**
 * Writes a run's files into `dir`: report.json (every number), summary.md (the markdown
 * tables: per method, per step), masks.png (layer 0, branch 0: the first variant's masks over the dense mass per
 * head and step) and recall-density.png. Each file is written to a temporary name and
 * renamed, so a failed run never leaves a half-written file. Returns the paths written.
 */
export async function writeEvaluationFiles(dir: string, report: EvalReport, heatmaps: HeatmapData): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: [string, string | Uint8Array][] = [
    ['report.json', JSON.stringify(report, null, 1)],
    ['summary.md', `${summaryTable(report)}\n\nPer evaluated step:\n\n${stepTable(report)}\n`],
  ];
  if (heatmaps.steps.length > 0)
    files.push([
      'masks.png',
      png(maskHeatmapFigure({
        title: `${report.variants[0].name.toUpperCase()} MASKS, LAYER 0: HEADS X STEPS${heatmaps.queryBlocks.length < heatmaps.blocks ? ` (${heatmaps.queryBlocks.length} EVALUATED QUERY BLOCKS OF ${heatmaps.blocks})` : ''}`,
        rows: heatmaps.queryBlocks.length,
        cols: heatmaps.blocks,
        rowLabels: heatmaps.heads.map((k, h) => `H${h} ${k.toUpperCase()}`),
        columnLabels: heatmaps.steps.map((s) => `STEP ${s}`),
        cells: heatmaps.cells,
      })),
    ]);
  const { densities, series, points } = report.curves;
  if (densities.length > 0 && series.oracle.every(Number.isFinite))
    files.push([
      'recall-density.png',
      png(recallCurveFigure('RECALL VS DENSITY (MEAN OVER HEADS AND STEPS)', [
        ...Object.entries(series).map(([name, ys]) => ({ name: name.toUpperCase(), colour: BASELINE_COLOURS[name], points: densities.map((d, i) => [d, ys[i]] as const) })),
        ...Object.entries(points).map(([name, p], i) => ({ name: name.toUpperCase(), colour: VARIANT_COLOURS[i % VARIANT_COLOURS.length], points: [p], markers: true })),
      ])),
    ]);
  const written: string[] = [];
  for (const [name, data] of files) {
    const path = join(dir, name);
    const tmp = `${path}.tmp-${process.pid}`;
    try {
      await writeFile(tmp, data);
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    written.push(path);
  }
  return written;
}

const png = (r: Raster): Uint8Array => encodePng(r.width, r.height, r.pixels);
