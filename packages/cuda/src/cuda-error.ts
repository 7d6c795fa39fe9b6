import { ModDitError } from '@mod-dit/tensor';

/** CUresult / cublasStatus_t codes this backend can meet, by number. Unlisted codes keep their number. */
const CU_RESULT_NAMES: Readonly<Record<number, string>> = {
  1: 'CUDA_ERROR_INVALID_VALUE',
  2: 'CUDA_ERROR_OUT_OF_MEMORY',
  3: 'CUDA_ERROR_NOT_INITIALIZED',
  4: 'CUDA_ERROR_DEINITIALIZED',
  34: 'CUDA_ERROR_STUB_LIBRARY',
  46: 'CUDA_ERROR_DEVICE_UNAVAILABLE',
  100: 'CUDA_ERROR_NO_DEVICE',
  101: 'CUDA_ERROR_INVALID_DEVICE',
  200: 'CUDA_ERROR_INVALID_IMAGE',
  201: 'CUDA_ERROR_INVALID_CONTEXT',
  209: 'CUDA_ERROR_NO_BINARY_FOR_GPU',
  218: 'CUDA_ERROR_INVALID_PTX',
  222: 'CUDA_ERROR_UNSUPPORTED_PTX_VERSION',
  400: 'CUDA_ERROR_INVALID_HANDLE',
  500: 'CUDA_ERROR_NOT_FOUND',
  600: 'CUDA_ERROR_NOT_READY',
  700: 'CUDA_ERROR_ILLEGAL_ADDRESS',
  701: 'CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES',
  702: 'CUDA_ERROR_LAUNCH_TIMEOUT',
  715: 'CUDA_ERROR_ILLEGAL_INSTRUCTION',
  716: 'CUDA_ERROR_MISALIGNED_ADDRESS',
  719: 'CUDA_ERROR_LAUNCH_FAILED',
  999: 'CUDA_ERROR_UNKNOWN',
};

const CUBLAS_STATUS_NAMES: Readonly<Record<number, string>> = {
  1: 'CUBLAS_STATUS_NOT_INITIALIZED',
  3: 'CUBLAS_STATUS_ALLOC_FAILED',
  7: 'CUBLAS_STATUS_INVALID_VALUE',
  8: 'CUBLAS_STATUS_ARCH_MISMATCH',
  11: 'CUBLAS_STATUS_MAPPING_ERROR',
  13: 'CUBLAS_STATUS_EXECUTION_FAILED',
  14: 'CUBLAS_STATUS_INTERNAL_ERROR',
  15: 'CUBLAS_STATUS_NOT_SUPPORTED',
};

/** Name of a CUresult code, e.g. 700 -> CUDA_ERROR_ILLEGAL_ADDRESS. */
export function cuResultName(code: number): string {
  return code === 0 ? 'CUDA_SUCCESS' : (CU_RESULT_NAMES[code] ?? `CUDA_ERROR_${code}`);
}

/** Name of a cublasStatus_t code. */
export function cublasStatusName(code: number): string {
  return code === 0 ? 'CUBLAS_STATUS_SUCCESS' : (CUBLAS_STATUS_NAMES[code] ?? `CUBLAS_STATUS_${code}`);
}

/** A CUDA driver or cuBLASLt call failed; `cudaName` is the library's name for the code. */
export class CudaError extends ModDitError {
  readonly status: number;
  readonly cudaName: string;
  constructor(call: string, status: number, cudaName: string) {
    super(cudaName === 'CUDA_ERROR_OUT_OF_MEMORY' ? 'E_CUDA_OOM' : 'E_CUDA', `${call} failed: ${cudaName} (${status})`);
    this.status = status;
    this.cudaName = cudaName;
  }
}

/** Whether `e` is the driver's out-of-memory error (the caching allocator then frees its cache and retries). */
export function isCudaOutOfMemory(e: unknown): boolean {
  return e instanceof CudaError && e.cudaName === 'CUDA_ERROR_OUT_OF_MEMORY';
}

/** Throws a CudaError unless a driver call returned CUDA_SUCCESS. */
export function checkCu(call: string, status: number): void {
  if (status !== 0) throw new CudaError(call, status, cuResultName(status));
}

/** Throws a CudaError unless a cuBLASLt call returned CUBLAS_STATUS_SUCCESS. */
export function checkCublas(call: string, status: number): void {
  if (status !== 0) throw new CudaError(call, status, cublasStatusName(status));
}
