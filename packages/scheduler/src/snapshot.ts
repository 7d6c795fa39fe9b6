import { BlockMask, type TokenRange } from '@mod-dit/tensor';
import type { Features } from '@mod-dit/predictor';
import { decodeBase64, encodeBase64 } from './base64.js';
import { resolveConfig, type ResolvedConfig } from './config.js';
import { SnapshotError } from './errors.js';
import type { LayerState } from './layer-state.js';
import type { MaskRecord } from './mask-scheduler.js';

/** Format tag of {@link SchedulerSnapshot}; bumped on any incompatible change. */
export const SNAPSHOT_FORMAT = 'mod-dit/scheduler-snapshot@1';

/** Typed arrays are base64 of their little-endian bytes, so a restore is bit-exact. */
export interface FeaturesSnapshot {
  diagonals: string;
  columns: string;
  tiles: string;
}

/** A mask as its CSR (geometry comes from the config). */
export interface MaskSnapshot {
  rowPtr: string;
  colIdx: string;
}

/** JSON form of one (layer, branch) state: step bookkeeping, feature history, last map and mask. */
export interface LayerSnapshot {
  layer: number;
  branch: string | number;
  lastStep: number;
  pending: number | null;
  history: FeaturesSnapshot[];
  historySteps: number[];
  map: string | null;
  projections: string | null;
  mask: MaskSnapshot | null;
  maskFrom: number;
  tileHeads: string | null;
}

/** JSON form of one issued mask with the steps it covered. */
export interface MaskRecordSnapshot {
  layer: number;
  branch: string | number;
  fromStep: number;
  toStep: number;
  mask: MaskSnapshot;
}

/** The JSON form of a MaskScheduler: `JSON.stringify` it, `JSON.parse` it back, hand it to MaskScheduler.fromJSON. */
export interface SchedulerSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  config: ResolvedConfig;
  layers: LayerSnapshot[];
  maskLog: MaskRecordSnapshot[];
}

export function snapshotScheduler(config: ResolvedConfig, states: LayerState[], log: readonly MaskRecord[]): SchedulerSnapshot {
  const mask = (m: BlockMask): MaskSnapshot => ({ rowPtr: encodeBase64(m.rowPtr), colIdx: encodeBase64(m.colIdx) });
  return {
    format: SNAPSHOT_FORMAT,
    config: structuredClone(config),
    layers: states.map((st) => ({
      layer: st.layer,
      branch: st.branch,
      lastStep: st.lastStep,
      pending: st.pending,
      history: st.history.map((f) => ({ diagonals: encodeBase64(f.diagonals), columns: encodeBase64(f.columns), tiles: encodeBase64(f.tiles) })),
      historySteps: [...st.historySteps],
      map: st.map ? encodeBase64(st.map) : null,
      projections: st.projections ? encodeBase64(st.projections) : null,
      mask: st.mask ? mask(st.mask) : null,
      maskFrom: st.maskFrom,
      tileHeads: st.tileHeads ? encodeBase64(st.tileHeads) : null,
    })),
    maskLog: log.map((r) => ({ layer: r.layer, branch: r.branch, fromStep: r.fromStep, toStep: r.toStep, mask: mask(r.mask) })),
  };
}

export function restoreScheduler<S>(
  snapshot: SchedulerSnapshot,
  build: (config: ResolvedConfig, states: LayerState[], log: MaskRecord[]) => S,
): S {
  if (!snapshot || snapshot.format !== SNAPSHOT_FORMAT)
    throw new SnapshotError(`snapshot format is ${JSON.stringify(snapshot?.format)}, expected ${JSON.stringify(SNAPSHOT_FORMAT)}`);
  const config = resolveConfig(snapshot.config);
  const heads = config.heads;
  const bs = config.geometry.blockSize;
  const n = Math.ceil(config.geometry.videoTokens / bs);
  const tokens = config.geometry.videoTokens + config.textTokens;
  const text: TokenRange = [config.geometry.videoTokens, tokens];
  const sized = <T extends { length: number }>(a: T, length: number, what: string): T => {
    if (a.length !== length) throw new SnapshotError(`${what}: ${a.length} entries, expected ${length}`);
    return a;
  };
  const mask = (m: MaskSnapshot, what: string): BlockMask =>
    new BlockMask(
      { heads, qLen: tokens, kLen: tokens, blockSize: bs },
      decodeBase64(m.rowPtr, Int32Array, `${what}.rowPtr`),
      decodeBase64(m.colIdx, Int32Array, `${what}.colIdx`),
      config.textTokens > 0 ? { queries: text, keys: text } : {},
    );
  const features = (f: FeaturesSnapshot, what: string): Features => ({
    heads,
    n,
    diagonals: sized(decodeBase64(f.diagonals, Float64Array, `${what}.diagonals`), heads * (2 * n - 1), `${what}.diagonals`),
    columns: sized(decodeBase64(f.columns, Float64Array, `${what}.columns`), heads * n, `${what}.columns`),
    tiles: sized(decodeBase64(f.tiles, Float64Array, `${what}.tiles`), heads, `${what}.tiles`),
    columnScale: config.fit.columnScale,
  });
  const states: LayerState[] = snapshot.layers.map((l, i) => {
    const what = `layers[${i}]`;
    return {
      layer: l.layer,
      branch: l.branch,
      lastStep: l.lastStep,
      pending: l.pending,
      history: l.history.map((f, k) => features(f, `${what}.history[${k}]`)),
      historySteps: [...l.historySteps],
      map: l.map === null ? null : sized(decodeBase64(l.map, Float32Array, `${what}.map`), heads * n * n, `${what}.map`),
      projections: l.projections === null ? null : sized(decodeBase64(l.projections, Float64Array, `${what}.projections`), heads * 3 * n, `${what}.projections`),
      mask: l.mask === null ? null : mask(l.mask, `${what}.mask`),
      maskFrom: l.maskFrom,
      tileHeads: l.tileHeads === null ? null : sized(decodeBase64(l.tileHeads, Uint8Array, `${what}.tileHeads`), heads, `${what}.tileHeads`),
    };
  });
  const log = snapshot.maskLog.map((r, i) => ({ layer: r.layer, branch: r.branch, fromStep: r.fromStep, toStep: r.toStep, mask: mask(r.mask, `maskLog[${i}].mask`) }));
  return build(config, states, log);
}
