/**
 * The `features` document tells the truth: each entry is checked against the plan builder (where a
 * config is accepted or refused) and the cgroup planners, so a feature listed is one podrun applies
 * and one left out or false is refused with its path.
 */
import { isInvalidArgument, type FieldIssue } from '@podkit/errdefs';
import { defaultSpec, SECCOMP_ARCHES, validateFeatures, type Spec } from '@podkit/oci-spec';
import { planResourcesV1, v1PrecheckHost } from '../cgroups/v1';
import { planResourcesV2 } from '../cgroups/v2';
import { makeFakeResctrl } from '../intelrdt/fake-tree';
import { buildCreatePlan, type CreatePlanContext } from '../plan/build';
import { features, supportedSeccompFlags } from './features';

const ctx: CreatePlanContext = { bundle: '/b', execFifo: '/run/x/exec.fifo', cgroupMounts: [] };
const doc = features('1.2.0');
const linux = doc.linux!;

/** The issues of a config (none when the plan builds). */
function issuesOf(mutate: (s: Spec) => void, c: CreatePlanContext = ctx): FieldIssue[] {
  const s = defaultSpec({ terminal: false, args: ['sh'] });
  mutate(s);
  try {
    buildCreatePlan(s, c);
    return [];
  } catch (err) {
    if (!isInvalidArgument(err)) throw err;
    return (err as { details?: { issues?: FieldIssue[] } }).details?.issues ?? [];
  }
}

const paths = (issues: FieldIssue[]) => issues.map((i) => i.path);
const userns = (s: Spec) => {
  s.linux!.namespaces!.push({ type: 'user' });
  s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
};

describe('features', () => {
  it('is a valid features document with runc’s shape', () => {
    expect(validateFeatures(doc)).toEqual(doc);
    expect(Object.keys(linux).sort()).toEqual(['apparmor', 'capabilities', 'cgroup', 'intelRdt', 'mountExtensions', 'namespaces', 'netDevices', 'seccomp', 'selinux']);
    expect(linux.cgroup).toEqual({ v1: true, v2: true, systemd: false, systemdUser: false, rdma: true });
    expect(linux.intelRdt).toEqual({ enabled: true });
    expect([linux.apparmor, linux.selinux]).toEqual([{ enabled: false }, { enabled: false }]);
  });

  it('hooks: every kind listed is accepted', () => {
    for (const kind of doc.hooks!) {
      expect(paths(issuesOf((s) => void (s.hooks = { [kind]: [{ path: '/bin/true', args: ['true'], timeout: 5 }] })))).toEqual([]);
    }
  });

  it('namespaces: every type listed is accepted', () => {
    expect(linux.namespaces).toEqual(['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts']);
    for (const type of linux.namespaces!) {
      const issues = issuesOf((s) => {
        if (type === 'user') userns(s);
        else if (!s.linux!.namespaces!.some((n) => n.type === type)) s.linux!.namespaces!.push({ type: type as 'time' });
      });
      expect([type, paths(issues)]).toEqual([type, []]);
    }
  });

  it('capabilities: every name listed is accepted', () => {
    expect(linux.capabilities).toHaveLength(41);
    expect(paths(issuesOf((s) => void (s.process!.capabilities = { bounding: linux.capabilities, permitted: linux.capabilities, effective: linux.capabilities }))).filter((p) => p.includes('capabilities'))).toEqual([]);
  });

  it('mountOptions: every option listed is accepted on a bind mount; tmpcopyup (not listed) is refused', () => {
    for (const opt of doc.mountOptions!) {
      const issues = issuesOf((s) => {
        if (opt === 'idmap' || opt === 'ridmap') userns(s);
        s.mounts!.push({ destination: '/data', type: 'bind', source: '/tmp', options: ['rbind', opt] });
      });
      expect([opt, paths(issues)]).toEqual([opt, []]);
    }
    expect(doc.mountOptions).not.toContain('tmpcopyup');
    expect(paths(issuesOf((s) => void s.mounts!.push({ destination: '/data', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup'] })))).toEqual(['/mounts/7/options/0']);
  });

  it('seccomp: every action, operator, listed arch and supported flag is accepted; the other archs are refused', () => {
    const sc = linux.seccomp!;
    expect(sc.enabled).toBe(true);
    for (const action of sc.actions!) {
      const issues = issuesOf((s) => {
        s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getcwd'], action: action as 'SCMP_ACT_LOG' }], ...(action === 'SCMP_ACT_NOTIFY' ? { listenerPath: '/run/agent.sock' } : {}) };
      });
      expect([action, paths(issues)]).toEqual([action, []]);
    }
    for (const op of sc.operators!) {
      const issues = issuesOf((s) => void (s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getcwd'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, valueTwo: 1, op: op as 'SCMP_CMP_EQ' }] }] }));
      expect([op, paths(issues)]).toEqual([op, []]);
    }
    for (const arch of SECCOMP_ARCHES) {
      const refused = paths(issuesOf((s) => void (s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: [arch] })));
      expect([arch, refused]).toEqual([arch, sc.archs!.includes(arch) ? [] : ['/linux/seccomp/architectures/0']]);
    }
    expect(sc.archs).toHaveLength(19);
    expect(paths(issuesOf((s) => void (s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', flags: sc.supportedFlags as 'SECCOMP_FILTER_FLAG_LOG'[] })))).toEqual([]);
    expect(sc.knownFlags).toEqual(expect.arrayContaining(sc.supportedFlags!));
  });

  it('seccomp supportedFlags follow the kernel release', () => {
    expect(supportedSeccompFlags('6.18.44-fc')).toEqual(['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV']);
    expect(supportedSeccompFlags('5.10.0-28-amd64')).toEqual(['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW']);
    expect(supportedSeccompFlags('4.15.0')).toEqual(['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG']);
  });

  it('apparmor and selinux (false) are refused with their path; netDevices is enabled exactly when accepted', () => {
    expect(paths(issuesOf((s) => void (s.process!.apparmorProfile = 'docker-default')))).toEqual(['/process/apparmorProfile']);
    expect(paths(issuesOf((s) => void (s.process!.selinuxLabel = 'system_u:system_r:container_t:s0')))).toEqual(['/process/selinuxLabel']);
    const net = paths(issuesOf((s) => void (s.linux!.netDevices = { eth1: {} })));
    expect(linux.netDevices).toEqual({ enabled: net.length === 0 });
  });

  it('mountExtensions.idmap: uidMappings/gidMappings of a bind mount are accepted', () => {
    const issues = issuesOf((s) => {
      userns(s);
      s.mounts!.push({ destination: '/data', type: 'bind', source: '/tmp', options: ['rbind'], uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }] });
    });
    expect(paths(issues)).toEqual([]);
  });

  it('intelRdt: accepted where resctrl is mounted (a fake tree here)', () => {
    const t = makeFakeResctrl();
    try {
      const rdt = { closID: 'gold', l3CacheSchema: 'L3:0=7f0', memBwSchema: 'MB:0=50' };
      expect(paths(issuesOf((s) => void (s.linux!.intelRdt = rdt), { ...ctx, resctrl: { root: t.root, fs: t.fs } }))).toEqual([]);
    } finally {
      t.cleanup();
    }
  });

  it('cgroup: rdma is planned on v1 and on v2', () => {
    const rdma = { mlx5_1: { hcaHandles: 3, hcaObjects: 100 } };
    expect(planResourcesV2({ rdma }, () => true)).toEqual([['rdma.max', 'mlx5_1 hca_handle=3 hca_object=100']]);
    expect(planResourcesV1({ rdma }, v1PrecheckHost(['rdma'])).map((w) => [w.controller, w.file, w.value])).toEqual([['rdma', 'rdma.max', 'mlx5_1 hca_handle=3 hca_object=100']]);
  });
});
