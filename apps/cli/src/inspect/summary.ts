import type { Checkpoint } from '@mod-dit/tensor/safetensors';
import { detectModel, type ModelDetection } from '../detect/model-family.js';

/** One tensor in an inspect listing. */
export interface TensorRow {
  readonly name: string;
  /** The file's dtype string (F32, BF16, F8_E4M3, ...). */
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly parameters: number;
  readonly bytes: number;
  readonly file: string;
}

/** Totals for one dtype. */
export interface DTypeTotals {
  tensors: number;
  parameters: number;
  bytes: number;
}

/** Everything `mod-dit inspect` reports; also its --json output. */
export interface CheckpointSummary {
  readonly path: string;
  readonly files: readonly string[];
  readonly model: ModelDetection;
  readonly tensorCount: number;
  readonly parameters: number;
  readonly bytes: number;
  readonly dtypes: Readonly<Record<string, DTypeTotals>>;
  /** Sorted by name, numeric parts numerically (blocks.2 before blocks.10). */
  readonly tensors: readonly TensorRow[];
}

/** Summarises an open checkpoint from its headers alone (no tensor data is read). */
export function summarizeCheckpoint(ckpt: Checkpoint): CheckpointSummary {
  const tensors: TensorRow[] = [];
  const dtypes: Record<string, DTypeTotals> = {};
  let parameters = 0;
  let bytes = 0;
  for (const [name, info] of ckpt.tensors) {
    const count = info.shape.reduce((a, d) => a * d, 1);
    tensors.push({ name, dtype: info.fileDtype, shape: info.shape, parameters: count, bytes: info.byteLength, file: info.file });
    const totals = (dtypes[info.fileDtype] ??= { tensors: 0, parameters: 0, bytes: 0 });
    totals.tensors++;
    totals.parameters += count;
    totals.bytes += info.byteLength;
    parameters += count;
    bytes += info.byteLength;
  }
  tensors.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  return { path: ckpt.path, files: ckpt.files, model: detectModel(tensors), tensorCount: tensors.length, parameters, bytes, dtypes, tensors };
}
