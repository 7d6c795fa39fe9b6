export { MaskScheduler, type AttentionPlan, type MaskRecord } from './mask-scheduler.js';
export { modelDefaults, resolveConfig, type ModelName, type ResolvedConfig, type ScheduleBudget, type SchedulerConfig } from './config.js';
export { stepKind, type StepKind } from './step-plan.js';
export type { Branch, CallSite } from './layer-state.js';
export { ScheduleOrderError, SnapshotError } from './errors.js';
export {
  SNAPSHOT_FORMAT,
  type FeaturesSnapshot,
  type LayerSnapshot,
  type MaskRecordSnapshot,
  type MaskSnapshot,
  type SchedulerSnapshot,
} from './snapshot.js';
