import { ModDitError } from '@mod-dit/tensor';

/** A sampler or denoising option is out of range; names the option, the expected and the actual value. */
export class PipelineOptionError extends ModDitError {
  constructor(message: string) {
    super('E_OPTION', message);
  }
}

/** The run was cancelled through its AbortSignal; `step` is the step that was about to start. */
export class DenoiseCancelledError extends ModDitError {
  readonly step: number;
  constructor(step: number, reason?: unknown) {
    super('E_CANCELLED', `denoising cancelled before step ${step}${reason !== undefined ? `: ${String(reason)}` : ''}`);
    this.step = step;
  }
}

/** The model returned a velocity of the wrong length or with non-finite values. */
export class ModelOutputError extends ModDitError {
  constructor(message: string) {
    super('E_MODEL_OUTPUT', message);
  }
}
