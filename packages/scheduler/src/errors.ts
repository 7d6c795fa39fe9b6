import { ModDitError } from '@mod-dit/tensor';

/** plan()/observe() called out of order: a map observed without a dense+map plan, a step skipped or repeated backwards, a mask needed before the warm-up maps arrived. */
export class ScheduleOrderError extends ModDitError {
  constructor(message: string) {
    super('E_SCHEDULE_ORDER', message);
  }
}

/** A scheduler snapshot is malformed or from another format version; names the field. */
export class SnapshotError extends ModDitError {
  constructor(message: string) {
    super('E_SNAPSHOT', message);
  }
}
