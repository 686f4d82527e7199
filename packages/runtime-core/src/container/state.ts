/**
 * The container state machine (runtime-spec "Lifecycle": creating → created → running → stopped), plus
 * runc's `paused` (a created or running container whose cgroup is frozen).
 */
import type { ContainerStatus } from '@podkit/oci-spec';

export type Status = ContainerStatus | 'paused';

/** What each verb may do in each status; every verb refreshes the status first, then asks here. */
export const can = {
  start: (s: Status): boolean => s === 'created',
  /** A paused container can be signalled (the signal is delivered when it is thawed; SIGKILL by `delete --force` thaws it). */
  kill: (s: Status): boolean => s === 'created' || s === 'running' || s === 'paused',
  /** Without --force: a created container is killed and removed (as runc), a running or paused one is refused. */
  delete: (s: Status): boolean => s === 'created' || s === 'stopped',
  /** With --force anything goes, a half-created container (its creator died) included. */
  forceDelete: (_s: Status): boolean => true,
  exec: (s: Status): boolean => s === 'created' || s === 'running',
  pause: (s: Status): boolean => s === 'created' || s === 'running',
  resume: (s: Status): boolean => s === 'paused',
  /** ps, update, events: a container with live processes. */
  inspect: (s: Status): boolean => s === 'created' || s === 'running' || s === 'paused',
};

export const ALL_STATUSES: readonly Status[] = ['creating', 'created', 'running', 'paused', 'stopped'];
