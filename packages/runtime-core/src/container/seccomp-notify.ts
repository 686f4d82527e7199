/**
 * The runtime's half of seccomp user notification (runtime-spec config-linux.md, "seccomp"): when a
 * profile uses SCMP_ACT_NOTIFY, podkit-init hands the listener fd back over the plan channel right
 * after loading the filter, and the runtime sends it, with the "container process state", to the
 * agent listening on `listenerPath`, as runc does. The init waits until this is done, so the agent
 * answers every notification of the container, including the init's own remaining setup when the
 * filter is loaded before the capabilities are dropped (no noNewPrivileges).
 */
import { FailedPreconditionError, isPodkitError } from '@podkit/errdefs';
import type { LinuxSeccomp } from '@podkit/oci-spec';
import { unixSendFds } from '../sys/native';
import { ociRuntime } from './oci';
import type { HookState } from './hooks';

/** The "container process state" sent to a seccomp agent. */
export interface ContainerProcessState {
  ociVersion: string;
  fds: string[];
  pid: number;
  metadata?: string;
  state: HookState;
}

export function containerProcessState(seccomp: LinuxSeccomp, pid: number, state: HookState): ContainerProcessState {
  return {
    ociVersion: ociRuntime().OCI_VERSION,
    fds: ['seccompFd'],
    pid,
    ...(seccomp.listenerMetadata !== undefined ? { metadata: seccomp.listenerMetadata } : {}),
    state,
  };
}

/**
 * A `seccompListener` handler for runInit: sends the listener of process `pid` to the profile's
 * listenerPath. `state` gives the container's state at that moment. Undefined without a listenerPath
 * (the plan builder refuses NOTIFY then).
 */
export function seccompAgent(seccomp: LinuxSeccomp | undefined, state: (pid: number) => HookState): ((pid: number, listenerFd: number) => Promise<void>) | undefined {
  const listenerPath = seccomp?.listenerPath;
  if (!seccomp || !listenerPath) return undefined;
  return async (pid, listenerFd) => {
    const payload = JSON.stringify(containerProcessState(seccomp, pid, state(pid)));
    try {
      await unixSendFds(listenerPath, payload, [listenerFd]);
    } catch (err) {
      // The runtime-spec: if sending to this socket fails, the runtime MUST generate an error.
      const why = isPodkitError(err) ? err.message : String(err);
      throw new FailedPreconditionError(`linux.seccomp.listenerPath: sending the seccomp listener to ${listenerPath} failed: ${why}`, {
        details: { field: '/linux/seccomp/listenerPath' },
        cause: err,
      });
    }
  };
}
