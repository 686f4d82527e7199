import { isInvalidArgument } from '@podkit/errdefs';
import { defaultSpec, type Spec } from '@podkit/oci-spec';
import { buildCreatePlan } from './build';
import { ifnameProblem, netDevicesPlan } from './netdevices';

const ctx = { bundle: '/b', execFifo: '/run/x/exec.fifo', cgroupMounts: [] };

function spec(mutate?: (s: Spec) => void): Spec {
  const s = defaultSpec({ terminal: false, args: ['sh'] });
  mutate?.(s);
  return s;
}

function issuesOf(s: Spec): string[] {
  try {
    buildCreatePlan(s, ctx);
  } catch (err) {
    expect(isInvalidArgument(err)).toBe(true);
    return ((err as { details?: { issues?: { path: string }[] } }).details?.issues ?? []).map((i) => i.path);
  }
  return [];
}

describe('linux.netDevices', () => {
  it('plans moves by host name, renamed or not, with "%d" templates', () => {
    const s = spec((x) => (x.linux!.netDevices = { eth1: {}, eth2: { name: 'ctr0' }, eth3: { name: 'net%d' }, eth4: { name: 'net%d' } }));
    expect(netDevicesPlan(s, [])).toEqual([
      { host: 'eth1', name: 'eth1' },
      { host: 'eth2', name: 'ctr0' },
      { host: 'eth3', name: 'net%d' },
      { host: 'eth4', name: 'net%d' },
    ]);
    expect(issuesOf(s)).toEqual([]);
  });

  it('needs a network namespace of the container\'s own', () => {
    expect(issuesOf(spec((x) => {
      x.linux!.netDevices = { eth1: {} };
      x.linux!.namespaces = x.linux!.namespaces!.filter((n) => n.type !== 'network');
    }))).toEqual(['/linux/netDevices']);
    expect(issuesOf(spec((x) => {
      x.linux!.netDevices = { eth1: {} };
      x.linux!.namespaces = x.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: '/proc/self/ns/net' } : n));
    }))).toEqual(['/linux/netDevices']);
  });

  it('refuses invalid names and two devices aiming at one name, with their paths', () => {
    const paths = issuesOf(spec((x) => (x.linux!.netDevices = {
      'a/b': {},
      'sixteen-chars-xx': {},
      ok1: { name: 'bad name' },
      ok2: { name: 'x%dy' },
      ok3: { name: 'same' },
      ok4: { name: 'same' },
      'p%d': {},
    })));
    expect(paths).toEqual(['/linux/netDevices/a/b', '/linux/netDevices/sixteen-chars-xx', '/linux/netDevices/ok1/name', '/linux/netDevices/ok2/name', '/linux/netDevices/ok4/name', '/linux/netDevices/p%d']);
  });

  it('checks names as the kernel does', () => {
    expect(ifnameProblem('eth0', false)).toBeUndefined();
    expect(ifnameProblem('a'.repeat(15), false)).toBeUndefined();
    for (const bad of ['', '.', '..', 'a'.repeat(16), 'a:b', 'a b', 'a/b', 'a%d']) expect(ifnameProblem(bad, false)).toBeDefined();
    expect(ifnameProblem('eth%d', true)).toBeUndefined();
    expect(ifnameProblem('e%dx', true)).toBeDefined();
    expect(ifnameProblem('e%d%d', true)).toBeDefined();
  });
});
