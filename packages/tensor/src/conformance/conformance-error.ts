import { ModDitError } from '../errors.js';

/** A backend's result differs from the reference beyond tolerance, or an op failed to throw the typed error it must. */
export class ConformanceError extends ModDitError {
  constructor(message: string) {
    super('E_CONFORMANCE', message);
  }
}
