/** Base class of every error this project throws on purpose: callers can `instanceof` it. */
export class ModDitError extends Error {
  /** Stable machine-readable code, e.g. `E_SHAPE`. */
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A tensor has the wrong rank or extents for an op. */
export class ShapeError extends ModDitError {
  constructor(message: string) {
    super('E_SHAPE', message);
  }
}

/** A tensor has a dtype the op or backend does not accept. */
export class DTypeError extends ModDitError {
  constructor(message: string) {
    super('E_DTYPE', message);
  }
}

/** Tensors from two different backends (or a disposed tensor) were mixed. */
export class BackendMismatchError extends ModDitError {
  constructor(message: string) {
    super('E_BACKEND_MISMATCH', message);
  }
}

/** The backend cannot start here: no GPU, no driver, no adapter. */
export class BackendUnavailableError extends ModDitError {
  constructor(backend: string, reason: string) {
    super('E_BACKEND_UNAVAILABLE', `${backend} backend unavailable: ${reason}`);
  }
}

/** The device lacks a feature a requested path needs (shader-f16, subgroups, sm_90...). */
export class UnsupportedFeatureError extends ModDitError {
  constructor(message: string) {
    super('E_UNSUPPORTED', message);
  }
}

/** A tensor was used after `dispose()`. */
export class DisposedTensorError extends ModDitError {
  constructor(message = 'tensor used after dispose()') {
    super('E_DISPOSED', message);
  }
}

/** A safetensors file (or index) is malformed; names the file, the tensor and the problem. */
export class SafetensorsError extends ModDitError {
  readonly file: string;
  readonly tensor: string | undefined;
  constructor(file: string, problem: string, tensor?: string) {
    super('E_SAFETENSORS', `${file}${tensor ? ` [${tensor}]` : ''}: ${problem}`);
    this.file = file;
    this.tensor = tensor;
  }
}

/** A BlockMask is inconsistent (unsorted CSR, index out of range, wrong head count). */
export class BlockMaskError extends ModDitError {
  constructor(message: string) {
    super('E_BLOCK_MASK', message);
  }
}
