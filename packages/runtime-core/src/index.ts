/**
 * @podkit/runtime-core — podkit's OCI runtime library. The system layer is the `./sys` subpath.
 */
export * as sys from './sys';
export { Runtime, type RuntimeOptions, type ExecHandle } from './container/runtime';
export type { CreateOptions } from './container/create';
export type { ExecOptions } from './container/exec';
export type { ContainerState } from './container/query';
export { can, ALL_STATUSES, type Status } from './container/state';
export { StateStore, DEFAULT_ROOT, type StateRecord } from './container/store';
export { buildCreatePlan, buildExecPlan, unsupportedIssues, type CreatePlanContext } from './plan/build';
export { PLAN_PROTOCOL_VERSION, type Plan } from './plan/types';
export type { ExitStatus } from './sys/process';
