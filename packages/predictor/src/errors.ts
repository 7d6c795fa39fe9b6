import { ModDitError } from '@mod-dit/tensor';

/** An option or geometry is out of its documented range; names the option, the expected and the actual value. */
export class InvalidOptionError extends ModDitError {
  constructor(message: string) {
    super('E_OPTION', message);
  }
}

/** A sparsity map has non-finite entries or entries outside [0, 1]; names the map, the head and the block. */
export class InvalidMapError extends ModDitError {
  constructor(message: string) {
    super('E_MAP', message);
  }
}
