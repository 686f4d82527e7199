/**
 * linux.netDevices at the create sync point: once the container's network namespace exists (the
 * init's child was cloned into it, or joined it) and before any hook runs, the devices move from the
 * runtime's network namespace into it. The runtime-spec says not to move them back: when the
 * namespace goes away the kernel returns physical devices to the initial namespace and destroys
 * virtual ones.
 */
import { FailedPreconditionError, isPodkitError } from '@podkit/errdefs';
import type { Spec } from '@podkit/oci-spec';
import { netDevicesPlan } from '../plan/netdevices';
import { netdevMove, type MovedNetDevice } from '../sys/native';

export async function moveNetDevices(spec: Spec, pid: number): Promise<MovedNetDevice[]> {
  // Checked by the plan builder already; nothing is pushed here.
  const moves = netDevicesPlan(spec, []);
  if (moves.length === 0) return [];
  const moved: MovedNetDevice[] = [];
  for (const m of moves) {
    try {
      moved.push(...(await netdevMove(`/proc/${pid}/ns/net`, [m])));
    } catch (err) {
      const why = isPodkitError(err) ? err.message : String(err);
      throw new FailedPreconditionError(`linux.netDevices.${m.host}: ${why}`, { details: { field: `/linux/netDevices/${m.host}` }, cause: err });
    }
  }
  return moved;
}
