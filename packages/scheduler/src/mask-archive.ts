import { writeMaskFile, readMaskFile } from '@mod-dit/predictor/mask-file';
import { SnapshotError } from './errors.js';
import type { MaskRecord } from './mask-scheduler.js';

/** Metadata key of the archive's schedule: JSON [{ name, layer, branch, fromStep, toStep }]. */
export const SCHEDULE_METADATA_KEY = 'mod_dit.schedule';

/** Tensor-name prefix of a record: `layer{L}.{branch}.step{fromStep}`. */
export function maskRecordName(r: Pick<MaskRecord, 'layer' | 'branch' | 'fromStep'>): string {
  return `layer${r.layer}.${r.branch}.step${r.fromStep}`;
}

/**
 * Writes issued masks (e.g. MaskScheduler.maskLog) to one .safetensors file, atomically,
 * in FlexAttention's layout: for each record `layer{L}.{branch}.step{S}.kv_num_blocks`
 * i32 [H, nQ] and `...kv_indices` i32 [H, nQ, nK], where S is the first step the mask
 * serves; the `mod_dit.schedule` metadata lists every record's layer, branch and step
 * range [fromStep, toStep]. Node only.
 */
export async function writeMaskArchive(path: string, records: readonly MaskRecord[], metadata: Readonly<Record<string, string>> = {}): Promise<void> {
  const masks: Record<string, MaskRecord['mask']> = {};
  const schedule = records.map((r) => {
    const name = maskRecordName(r);
    if (masks[name]) throw new SnapshotError(`${path}: two masks for layer ${r.layer}, branch ${r.branch}, step ${r.fromStep}`);
    masks[name] = r.mask;
    return { name, layer: r.layer, branch: r.branch, fromStep: r.fromStep, toStep: r.toStep };
  });
  await writeMaskFile(path, masks, { ...metadata, [SCHEDULE_METADATA_KEY]: JSON.stringify(schedule) });
}

/** Reads an archive written by {@link writeMaskArchive} back into records, in the order written. */
export async function readMaskArchive(path: string): Promise<MaskRecord[]> {
  const { masks, metadata } = await readMaskFile(path);
  const raw = metadata[SCHEDULE_METADATA_KEY];
  if (raw === undefined) throw new SnapshotError(`${path}: no ${SCHEDULE_METADATA_KEY} metadata; not a mask archive`);
  const schedule = JSON.parse(raw) as { name: string; layer: number; branch: string | number; fromStep: number; toStep: number }[];
  return schedule.map((s) => {
    const mask = masks[s.name];
    if (!mask) throw new SnapshotError(`${path}: schedule names ${s.name}, which has no tensors`);
    return { layer: s.layer, branch: s.branch, fromStep: s.fromStep, toStep: s.toStep, mask };
  });
}
