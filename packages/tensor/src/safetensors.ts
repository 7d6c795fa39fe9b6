/**
 * safetensors I/O for Node: `SafetensorsFile` (one file), `Checkpoint` (one file or a sharded
 * checkpoint with its index json) and `writeSafetensors` (atomic). Reads touch only the
 * header and the requested tensors' byte ranges. The header parser itself
 * (`./safetensors/header.js`) has no Node imports.
 */
export { SafetensorsFile, type LoadedTensor } from './safetensors/file.js';
export { Checkpoint, type CheckpointTensorInfo } from './safetensors/checkpoint.js';
export { writeSafetensors, type TensorToWrite } from './safetensors/write.js';
export {
  parseHeader,
  parseHeaderLength,
  layoutSafetensors,
  HEADER_PREFIX_BYTES,
  MAX_HEADER_BYTES,
  type SafetensorsHeader,
  type SafetensorsTensorInfo,
  type SafetensorsLayoutEntry,
} from './safetensors/header.js';
export { SAFETENSORS_DTYPE_BITS, SAFETENSORS_DTYPE_OF, dtypeFromSafetensors, type SafetensorsDType } from './safetensors/dtypes.js';
