import { BlockMask, BlockMaskError, type TokenRange } from '@mod-dit/tensor';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '@mod-dit/tensor/safetensors';

/** Metadata key holding the JSON list of {@link MaskFileGeometry} entries. */
export const MASKS_METADATA_KEY = 'mod_dit.masks';

/** What a reader needs besides FlexAttention's two arrays to rebuild a mask. */
export interface MaskFileGeometry {
  /** Tensor name prefix: the mask's tensors are `${name}.kv_num_blocks` and `${name}.kv_indices`. */
  name: string;
  heads: number;
  qLen: number;
  kLen: number;
  blockSize: number;
  denseQueries?: TokenRange;
  denseKeys?: TokenRange;
}

/**
 * Writes block masks to one .safetensors file (atomically) in FlexAttention's layout:
 * `${name}.kv_num_blocks` i32 [H, nQ] and `${name}.kv_indices` i32 [H, nQ, nK] (sorted,
 * padded with 0), ready for torch.nn.attention.flex_attention.BlockMask.from_kv_blocks.
 * The geometry of each mask goes to the `mod_dit.masks` metadata entry (JSON); `metadata`
 * adds more string entries. Node only.
 */
export async function writeMaskFile(path: string, masks: Readonly<Record<string, BlockMask>>, metadata: Readonly<Record<string, string>> = {}): Promise<void> {
  const tensors: Record<string, TensorToWrite> = {};
  const geometry: MaskFileGeometry[] = [];
  for (const [name, mask] of Object.entries(masks)) {
    const flex = mask.toFlex();
    tensors[`${name}.kv_num_blocks`] = { dtype: 'i32', shape: [flex.heads, flex.nQ], data: flex.kvNumBlocks };
    tensors[`${name}.kv_indices`] = { dtype: 'i32', shape: [flex.heads, flex.nQ, flex.nK], data: flex.kvIndices };
    geometry.push({ name, heads: mask.heads, qLen: mask.qLen, kLen: mask.kLen, blockSize: mask.blockSize, denseQueries: mask.denseQueries, denseKeys: mask.denseKeys });
  }
  await writeSafetensors(path, tensors, { ...metadata, [MASKS_METADATA_KEY]: JSON.stringify(geometry) });
}

/** Reads a file written by {@link writeMaskFile}: the masks by name and the file's metadata. */
export async function readMaskFile(path: string): Promise<{ masks: Record<string, BlockMask>; metadata: Record<string, string> }> {
  const file = await SafetensorsFile.open(path);
  try {
    const raw = file.metadata[MASKS_METADATA_KEY];
    if (raw === undefined) throw new BlockMaskError(`${path}: no ${MASKS_METADATA_KEY} metadata; not a mask file`);
    let geometry: MaskFileGeometry[];
    try {
      geometry = JSON.parse(raw) as MaskFileGeometry[];
    } catch (e) {
      throw new BlockMaskError(`${path}: ${MASKS_METADATA_KEY} metadata is not JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(geometry)) throw new BlockMaskError(`${path}: ${MASKS_METADATA_KEY} metadata must be a JSON array`);
    const masks: Record<string, BlockMask> = {};
    for (const g of geometry) {
      const counts = await file.read(`${g.name}.kv_num_blocks`);
      const indices = await file.read(`${g.name}.kv_indices`);
      if (counts.dtype !== 'i32' || indices.dtype !== 'i32')
        throw new BlockMaskError(`${path} [${g.name}]: kv_num_blocks / kv_indices must be i32, got ${counts.dtype} / ${indices.dtype}`);
      const geo = { heads: g.heads, qLen: g.qLen, kLen: g.kLen, blockSize: g.blockSize };
      const flexMask = BlockMask.fromFlex(geo, { kvNumBlocks: counts.data as Int32Array, kvIndices: indices.data as Int32Array });
      // fromFlex folds nothing in; the always-on ranges are already in the CSR, so re-attach them as labels only
      masks[g.name] = new BlockMask(geo, flexMask.rowPtr, flexMask.colIdx, { queries: g.denseQueries, keys: g.denseKeys });
    }
    const metadata = { ...file.metadata };
    delete metadata[MASKS_METADATA_KEY];
    return { masks, metadata };
  } finally {
    await file.close();
  }
}
