import { ModDitError } from '@mod-dit/tensor';

/** An evaluation option or input is invalid: names the option, the expected and the actual value. */
export class EvalConfigError extends ModDitError {
  constructor(message: string) {
    super('E_EVAL_CONFIG', message);
  }
}
