/** The container state machine (runtime-spec "Lifecycle"): creating → created → running → stopped. */
import type { ContainerStatus } from '@podkit/oci-spec';

export type Status = ContainerStatus;

/** What each verb may do in each status; every verb refreshes the status first, then asks here. */
export const can = {
  start: (s: Status): boolean => s === 'created',
  kill: (s: Status): boolean => s === 'created' || s === 'running',
  /** Without --force: a created container is killed and removed (as runc), a running one is refused. */
  delete: (s: Status): boolean => s === 'created' || s === 'stopped',
  /** With --force anything goes, a half-created container (its creator died) included. */
  forceDelete: (_s: Status): boolean => true,
  exec: (s: Status): boolean => s === 'created' || s === 'running',
};

export const ALL_STATUSES: readonly Status[] = ['creating', 'created', 'running', 'stopped'];
