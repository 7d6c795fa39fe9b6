export { CudaBackend, createCudaBackend } from './cuda-backend.js';
export { cudaAvailability, type CudaAvailability } from './availability.js';
export { CudaError, cuResultName, cublasStatusName } from './cuda-error.js';
export type { DeviceInfo } from './driver.js';
