/**
 * A finding of the fuzz suite: the plan builder (plan/build.ts `buildDevice`) accepted a linux.devices
 * path that leaves /dev through `..` (`/dev/../etc/shadow`); podkit-init then unlinked and mknod'ed
 * that path inside the rootfs (not an escape, but it replaced an image file by a device node). runc
 * rejects it, and so does `buildDevice` now, naming the field.
 */
import { validateSpec } from '@podkit/oci-spec';
import { buildCreatePlan } from '../plan/build';
import { assertNamedRejection, assertPlanInvariants, baseConfig } from './mutate';

describe('fuzz finding: linux.devices path with ..', () => {
  it.each(['/dev/../etc/shadow', '/dev/./../proc/x', '/dev/pts/../../etc/passwd'])('%s is rejected naming /linux/devices/0/path', (p) => {
    const s = baseConfig();
    s.linux = { ...s.linux, devices: [{ path: p, type: 'c', major: 1, minor: 3 }] };
    let err: unknown;
    try {
      const { plan } = buildCreatePlan(validateSpec(s), { bundle: '/b', execFifo: '/f', cgroupMounts: [] });
      assertPlanInvariants(plan, { normalizedDevices: true });
    } catch (e) {
      err = e;
    }
    assertNamedRejection(err);
    expect((err as { details: { field: string } }).details.field).toBe('/linux/devices/0/path');
  });
});
