import { isInvalidArgument } from '@podkit/errdefs';
import { defaultSpec, type Spec } from '@podkit/oci-spec';
import { MS } from '../sys/mount';
import { buildCreatePlan, buildExecPlan } from './build';

const ctx = { bundle: '/b', execFifo: '/run/x/exec.fifo', cgroupMounts: [{ name: 'memory', source: '/sys/fs/cgroup/memory/me/c1' }] };

function spec(mutate?: (s: Spec) => void): Spec {
  const s = defaultSpec({ terminal: false, args: ['sh'] });
  mutate?.(s);
  return s;
}

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(isInvalidArgument(err)).toBe(true);
    return ((err as { details?: { issues?: { path: string }[] } }).details?.issues ?? []).map((i) => i.path);
  }
  throw new Error('expected an InvalidArgument error');
}

describe('buildCreatePlan', () => {
  it('plans the default config: namespaces, rootfs, mounts, devices, process', () => {
    const { plan, warnings } = buildCreatePlan(spec(), ctx);
    expect(plan.mode).toBe('create');
    expect(plan.clone).toEqual(['pid', 'network', 'ipc', 'uts', 'mount']);
    expect(plan.join).toEqual([]);
    expect(plan.cloneParent).toBe(true);
    expect(plan.execFifo).toBe('/run/x/exec.fifo');
    expect(plan.hostname).toBe('runc');
    expect(plan.rootfs).toMatchObject({ path: '/b/rootfs', readonly: true, noPivot: false, propagation: 0, devSymlinks: true });
    const m = Object.fromEntries(plan.rootfs!.mounts.map((x) => [x.destination, x]));
    expect(m['/proc']).toEqual({ destination: '/proc', type: 'proc', source: 'proc', flags: 0, data: '' });
    expect(m['/dev']).toMatchObject({ type: 'tmpfs', flags: MS.NOSUID | MS.STRICTATIME, data: 'mode=755,size=65536k' });
    expect(m['/sys']).toMatchObject({ type: 'sysfs', flags: MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY });
    expect(m['/sys/fs/cgroup']).toMatchObject({ kind: 'cgroup-v1', cgroups: ctx.cgroupMounts });
    expect(plan.rootfs!.devices.map((d) => d.path)).toEqual(['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty']);
    expect(plan.process).toMatchObject({
      args: ['sh'],
      cwd: '/',
      user: { uid: 0, gid: 0, additionalGids: [] },
      rlimits: [{ type: 7, soft: '1024', hard: '1024' }],
      noNewPrivileges: true,
      capabilities: { bounding: [29, 5, 10], effective: [29, 5, 10], permitted: [29, 5, 10], inheritable: [], ambient: [] },
    });
    // runc's default config lists ambient capabilities that are not inheritable: skipped with a warning.
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/ambient capability CAP_AUDIT_WRITE skipped/);
  });

  it('keeps 64-bit rlimits exact and resolves bind sources against the bundle', () => {
    const { plan } = buildCreatePlan(
      spec((s) => {
        s.process!.rlimits = [{ type: 'RLIMIT_CORE', soft: 2 ** 53, hard: 2 ** 53 }];
        s.mounts!.push({ destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ro', 'rprivate'] });
      }),
      ctx,
    );
    expect(plan.process.rlimits).toEqual([{ type: 4, soft: String(2 ** 53), hard: String(2 ** 53) }]);
    expect(plan.rootfs!.mounts.at(-1)).toEqual({ destination: '/data', type: 'bind', source: '/b/data', flags: MS.BIND | MS.REC | MS.RDONLY, data: '', propagation: [MS.PRIVATE | MS.REC] });
  });

  it('joins namespaces by path, mount namespace last', () => {
    const { plan } = buildCreatePlan(
      spec((s) => {
        s.linux!.namespaces = [{ type: 'mount', path: '/proc/1/ns/mnt' }, { type: 'network', path: '/proc/1/ns/net' }, { type: 'pid' }, { type: 'uts' }];
      }),
      ctx,
    );
    expect(plan.join).toEqual([
      { type: 'network', path: '/proc/1/ns/net' },
      { type: 'mount', path: '/proc/1/ns/mnt' },
    ]);
    expect(plan.clone).toEqual(['pid', 'uts']);
  });

  it('plans a console for a terminal with --console-socket', () => {
    const { plan } = buildCreatePlan(
      spec((s) => {
        s.process!.terminal = true;
        s.process!.consoleSize = { height: 24, width: 80 };
      }),
      { ...ctx, consoleSocket: '/tmp/console.sock' },
    );
    expect(plan.console).toEqual({ socket: '/tmp/console.sock', height: 24, width: 80 });
    expect(issuesOf(() => buildCreatePlan(spec(), { ...ctx, consoleSocket: 'rel.sock' }))).toEqual(['--console-socket']);
  });

  it('rejects unsupported fields by path instead of ignoring them', () => {
    const paths = issuesOf(() =>
      buildCreatePlan(
        spec((s) => {
          s.process!.terminal = true;
          s.process!.apparmorProfile = 'x';
          s.linux!.seccomp = { defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/run/l.sock' };
          s.linux!.resources = { blockIO: { weight: 10 } };
        }),
        ctx,
      ),
    );
    expect(paths).toEqual(['/process/apparmorProfile', '/linux/seccomp/defaultAction', '/process/terminal']);
  });

  it('passes a seccomp profile to the process plan; refuses arches libseccomp 2.5 lacks and unusable NOTIFY, by path', () => {
    const seccomp: NonNullable<NonNullable<Spec['linux']>['seccomp']> = {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_X86_64'],
      flags: ['SECCOMP_FILTER_FLAG_LOG'],
      syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] }],
    };
    const { plan } = buildCreatePlan(spec((s) => (s.linux!.seccomp = seccomp)), ctx);
    expect(plan.process.seccomp).toEqual(seccomp);
    expect(buildCreatePlan(spec(), ctx).plan.process.seccomp).toBeUndefined();
    const paths = issuesOf(() =>
      buildCreatePlan(
        spec(
          (s) =>
            (s.linux!.seccomp = {
              defaultAction: 'SCMP_ACT_ALLOW',
              architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_LOONGARCH64'],
              flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
              syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }, { names: ['ioctl'], action: 'SCMP_ACT_NOTIFY' }],
            }),
        ),
        ctx,
      ),
    );
    // NOTIFY needs a listenerPath; WAIT_KILLABLE_RECV is supported (seccomp(2) directly, kernel 5.19+).
    expect(paths).toEqual(['/linux/seccomp/architectures/1', '/linux/seccomp/listenerPath']);
  });

  it('accepts a NOTIFY profile with an absolute listenerPath and refuses the NOTIFY shapes podkit-init cannot serve', () => {
    const notify: NonNullable<NonNullable<Spec['linux']>['seccomp']> = {
      defaultAction: 'SCMP_ACT_ALLOW',
      listenerPath: '/run/agent.sock',
      listenerMetadata: 'meta',
      flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }],
    };
    expect(buildCreatePlan(spec((s) => (s.linux!.seccomp = notify)), ctx).plan.process.seccomp).toEqual(notify);
    // A listenerPath without NOTIFY is ignored, as the runtime-spec says.
    expect(() => buildCreatePlan(spec((s) => (s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: 'rel' })), ctx)).not.toThrow();
    const bad = (seccomp: NonNullable<NonNullable<Spec['linux']>['seccomp']>) => issuesOf(() => buildCreatePlan(spec((s) => (s.linux!.seccomp = seccomp)), ctx));
    expect(bad({ defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/run/a.sock' })).toEqual(['/linux/seccomp/defaultAction']);
    expect(bad({ ...notify, syscalls: [{ names: ['mkdir', 'sendmsg'], action: 'SCMP_ACT_NOTIFY' }] })).toEqual(['/linux/seccomp/syscalls/0/names/1']);
    expect(bad({ ...notify, listenerPath: 'agent.sock' })).toEqual(['/linux/seccomp/listenerPath']);
    expect(bad({ ...notify, listenerPath: `/run/${'x'.repeat(103)}` })).toEqual(['/linux/seccomp/listenerPath']);
    expect(buildCreatePlan(spec((s) => (s.linux!.seccomp = { ...notify, listenerPath: `/run/${'x'.repeat(102)}` })), ctx).plan.process.seccomp).toBeDefined();
    expect(bad({ defaultAction: 'SCMP_ACT_ALLOW', listenerMetadata: 'm' })).toEqual(['/linux/seccomp/listenerMetadata']);
  });

  it('refuses an errno on a seccomp action that takes none (the runtime-spec says fail)', () => {
    const paths = issuesOf(() =>
      buildCreatePlan(
        spec((s) => {
          s.linux!.seccomp = {
            defaultAction: 'SCMP_ACT_KILL',
            defaultErrnoRet: 1,
            syscalls: [
              { names: ['mkdir'], action: 'SCMP_ACT_ALLOW', errnoRet: 5 },
              { names: ['rmdir'], action: 'SCMP_ACT_TRACE', errnoRet: 5 },
            ],
          };
        }),
        ctx,
      ),
    );
    expect(paths).toEqual(['/linux/seccomp/defaultErrnoRet', '/linux/seccomp/syscalls/0/errnoRet']);
  });

  it('binds the container\'s cgroup folder for a cgroup mount on a cgroup v2 host', () => {
    const { plan } = buildCreatePlan(spec(), { ...ctx, cgroupMounts: [], cgroupV2Dir: '/sys/fs/cgroup/own/c1' });
    const m = plan.rootfs!.mounts.find((x) => x.destination === '/sys/fs/cgroup');
    expect(m).toMatchObject({ type: 'bind', source: '/sys/fs/cgroup/own/c1' });
    expect(m!.kind).toBeUndefined();
    expect(m!.flags & (MS.BIND | MS.REC)).toBe(MS.BIND | MS.REC);
  });

  it('passes createContainer and startContainer hooks to the init; the runtime keeps the others', () => {
    const { plan } = buildCreatePlan(
      spec((s) => {
        s.hooks = {
          prestart: [{ path: '/bin/true' }],
          createRuntime: [{ path: '/bin/true' }],
          createContainer: [{ path: '/bin/cc', args: ['cc', '-x'], env: ['A=1'], timeout: 5 }],
          startContainer: [{ path: '/sc' }],
          poststart: [{ path: '/bin/true' }],
          poststop: [{ path: '/bin/true' }],
        };
      }),
      ctx,
    );
    expect(plan.hooks).toEqual({ createContainer: [{ path: '/bin/cc', args: ['cc', '-x'], env: ['A=1'], timeout: 5 }], startContainer: [{ path: '/sc' }] });
    expect(buildCreatePlan(spec((s) => void (s.hooks = { poststop: [{ path: '/bin/true' }] })), ctx).plan.hooks).toBeUndefined();
  });

  it('rejects hooks with a relative path, a bad timeout or env entry, naming the field', () => {
    const paths = issuesOf(() =>
      buildCreatePlan(
        spec((s) => {
          s.hooks = {
            createRuntime: [{ path: 'rel' }],
            startContainer: [{ path: '/x', timeout: 0 }, { path: '/y', timeout: 1e9, env: ['NOEQUALS', '=v', 'OK=1'] }],
          };
        }),
        ctx,
      ),
    );
    expect(paths).toEqual(['/hooks/createRuntime/0/path', '/hooks/startContainer/0/timeout', '/hooks/startContainer/1/timeout', '/hooks/startContainer/1/env/0', '/hooks/startContainer/1/env/1']);
  });

  it('checks hostname, sysctls, capabilities, rlimits, mounts and cwd with field paths', () => {
    const paths = issuesOf(() =>
      buildCreatePlan(
        spec((s) => {
          s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'uts' && n.type !== 'network');
          s.linux!.sysctl = { 'net.ipv4.ip_forward': '1', 'vm.swappiness': '10' };
          s.process!.capabilities!.bounding = ['CAP_NOPE'];
          s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 5 }];
          s.process!.cwd = 'relative';
          s.mounts!.push({ destination: 'relative', type: 'tmpfs' });
          s.linux!.devices = [{ path: '/etc/x', type: 'c', major: 1, minor: 1 }];
        }),
        ctx,
      ),
    );
    expect(paths).toEqual([
      '/hostname',
      '/linux/sysctl/net.ipv4.ip_forward',
      '/linux/sysctl/vm.swappiness',
      '/mounts/7/destination',
      '/linux/devices/0/path',
      '/process/cwd',
      '/process/rlimits/0/soft',
      '/process/capabilities/bounding/0',
    ]);
  });

  it('rejects sysctl keys with a "/" or an empty component, naming the key', () => {
    for (const k of ['net/ipv4/ip_forward', 'net.ipv4/../../kernel/core_pattern', 'net..ipv4.ip_forward', 'net.ipv4.']) {
      const [err] = issuesOf(() => buildCreatePlan(spec((s) => (s.linux!.sysctl = { [k]: '1' })), ctx));
      expect(err).toBe(`/linux/sysctl/${k}`);
    }
    expect(() => buildCreatePlan(spec((s) => (s.linux!.sysctl = { 'net.ipv4.ip_forward': '1' })), ctx)).not.toThrow();
  });

  it('rejects linux.devices paths that leave /dev or are not normalised', () => {
    for (const p of ['/dev/../etc/shadow', '/dev/./x', '/dev/pts/../../etc/passwd', '/dev//x']) {
      expect(issuesOf(() => buildCreatePlan(spec((s) => (s.linux!.devices = [{ path: p, type: 'c', major: 1, minor: 3 }])), ctx))).toEqual(['/linux/devices/0/path']);
    }
  });

  it('adds default devices only with a /dev mount, letting linux.devices override them', () => {
    const noDev = buildCreatePlan(spec((s) => (s.mounts = s.mounts!.filter((m) => m.destination !== '/dev'))), ctx).plan;
    expect(noDev.rootfs!.devices).toEqual([]);
    expect(noDev.rootfs!.devSymlinks).toBe(false);
    const over = buildCreatePlan(spec((s) => (s.linux!.devices = [{ path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o600 }])), ctx).plan;
    expect(over.rootfs!.devices.filter((d) => d.path === '/dev/null')).toEqual([{ path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o600, uid: 0, gid: 0 }]);
  });
});

describe('buildExecPlan', () => {
  it('joins every namespace of the init by /proc path and clones nothing', () => {
    const { plan } = buildExecPlan({ args: ['ls'], cwd: '/', user: { uid: 0, gid: 0 } }, 42, ['pid', 'network', 'mount', 'ipc', 'uts', 'cgroup']);
    expect(plan).toMatchObject({ mode: 'exec', clone: [], cloneParent: true, setsid: false });
    expect(plan.join.map((j) => j.path)).toEqual(['/proc/42/ns/cgroup', '/proc/42/ns/ipc', '/proc/42/ns/uts', '/proc/42/ns/net', '/proc/42/ns/pid', '/proc/42/ns/mnt']);
    expect(plan.rootfs).toBeUndefined();
    expect(plan.process.seccomp).toBeUndefined();
  });

  it('carries the container\'s seccomp profile to an exec process', () => {
    const seccomp = { defaultAction: 'SCMP_ACT_ALLOW' as const, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' as const }] };
    const { plan } = buildExecPlan({ args: ['ls'], cwd: '/' }, 1, [], '/process', undefined, 0, seccomp);
    expect(plan.process.seccomp).toEqual(seccomp);
  });

  it('carries the container\'s personality to an exec process (runc applies it to exec too)', () => {
    expect(buildExecPlan({ args: ['ls'], cwd: '/' }, 1, []).plan.personality).toBeUndefined();
    expect(buildExecPlan({ args: ['ls'], cwd: '/' }, 1, [], '/process', undefined, 0, undefined, 'allow', 8).plan.personality).toBe(8);
  });

  it('needs a console socket for a terminal, and a terminal for a console socket (as runc)', () => {
    expect(issuesOf(() => buildExecPlan({ args: ['ls'], cwd: '/', terminal: true }, 1, []))).toEqual(['/process/terminal']);
    expect(issuesOf(() => buildExecPlan({ args: ['ls'], cwd: '/' }, 1, [], '/process', '/run/c.sock'))).toEqual(['--console-socket']);
    const { plan } = buildExecPlan({ args: ['sh'], cwd: '/', terminal: true, consoleSize: { height: 30, width: 100 } }, 1, [], '/process', '/run/c.sock');
    expect(plan).toMatchObject({ setsid: true, console: { socket: '/run/c.sock', height: 30, width: 100 } });
  });
});

describe('linux.sysctl against the namespaces the container owns (as runc)', () => {
  const withNs = (types: string[], sysctl: Record<string, string>, mutate?: (s: Spec) => void) =>
    spec((s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type === 'mount' || n.type === 'pid' || types.includes(n.type));
      for (const t of types) if (!s.linux!.namespaces!.some((n) => n.type === t)) s.linux!.namespaces!.push({ type: t as 'ipc' });
      if (!types.includes('uts')) delete s.hostname;
      s.linux!.sysctl = sysctl;
      mutate?.(s);
    });

  it('applies IPC sysctls with an ipc namespace, net.* with a network one, kernel.domainname with a uts one', () => {
    const all = { 'kernel.shmmax': '1000', 'kernel.sem': '1 2 3 4', 'fs.mqueue.msg_max': '20', 'net.ipv4.ip_forward': '1', 'kernel.domainname': 'example' };
    const { plan } = buildCreatePlan(withNs(['ipc', 'network', 'uts'], all), ctx);
    expect(plan.sysctl).toEqual(all);
  });

  it('refuses each sysctl whose namespace the container does not own, naming the key and the namespace', () => {
    const err = (() => {
      try {
        buildCreatePlan(withNs([], { 'kernel.shmmax': '1', 'fs.mqueue.queues_max': '1', 'net.core.somaxconn': '1', 'kernel.domainname': 'x' }), ctx);
      } catch (e) {
        return e as { details: { issues: { path: string; reason: string }[] } };
      }
      throw new Error('expected an error');
    })();
    expect(err.details.issues.map((i) => [i.path, i.reason.match(/private (\w+) namespace/)?.[1]])).toEqual([
      ['/linux/sysctl/kernel.shmmax', 'ipc'],
      ['/linux/sysctl/fs.mqueue.queues_max', 'ipc'],
      ['/linux/sysctl/net.core.somaxconn', 'network'],
      ['/linux/sysctl/kernel.domainname', 'uts'],
    ]);
  });

  it('refuses sysctls that are not namespaced at all', () => {
    for (const k of ['vm.swappiness', 'kernel.pid_max', 'kernel.core_pattern', 'fs.file-max', 'user.max_user_namespaces']) {
      const paths = issuesOf(() => buildCreatePlan(withNs(['ipc', 'network', 'uts'], { [k]: '1' }), ctx));
      expect(paths).toEqual([`/linux/sysctl/${k}`]);
    }
  });

  it("refuses net.* when the network namespace joined by path is the runtime's own", () => {
    const joined = (p: string) => withNs([], { 'net.ipv4.ip_forward': '1' }, (s) => s.linux!.namespaces!.push({ type: 'network', path: p }));
    expect(issuesOf(() => buildCreatePlan(joined('/proc/self/ns/net'), ctx))).toEqual(['/linux/sysctl/net.ipv4.ip_forward']);
    expect(issuesOf(() => buildCreatePlan(joined(`/proc/${process.pid}/ns/net`), ctx))).toEqual(['/linux/sysctl/net.ipv4.ip_forward']);
    // Another namespace (here: one that cannot be stat'ed, so opening it fails later with its own error) is fine.
    expect(buildCreatePlan(joined('/run/netns/podkit-does-not-exist'), ctx).plan.sysctl).toEqual({ 'net.ipv4.ip_forward': '1' });
  });

  it('refuses kernel.hostname / kernel.domainname next to /hostname / /domainname', () => {
    expect(buildCreatePlan(withNs(['uts'], { 'kernel.hostname': 'h' }, (s) => delete s.hostname), ctx).plan.sysctl).toEqual({ 'kernel.hostname': 'h' });
    expect(issuesOf(() => buildCreatePlan(withNs(['uts'], { 'kernel.hostname': 'h' }), ctx))).toEqual(['/linux/sysctl/kernel.hostname']);
    expect(issuesOf(() => buildCreatePlan(withNs(['uts'], { 'kernel.domainname': 'd' }, (s) => (s.domainname = 'x')), ctx))).toEqual(['/linux/sysctl/kernel.domainname']);
  });
});
