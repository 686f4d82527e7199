import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { isInvalidArgument, type FieldIssue, type InvalidArgumentError } from '@podkit/errdefs';
import {
  checkFeatures,
  checkProcess,
  checkSpec,
  checkState,
  defaultSpec,
  OCI_VERSION,
  validateFeatures,
  validateProcess,
  validateSpec,
  validateState,
  type Spec,
} from './index';
import runcFeatures from './fixtures/runc-features.json';
import runcSpec from './fixtures/runc-spec.json';
import runcSpecRootless from './fixtures/runc-spec-rootless.json';

const clone = <T>(x: T): T => structuredClone(x);
type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function issuesOf(r: { ok: true } | { ok: false; issues: FieldIssue[] }): FieldIssue[] {
  if (r.ok) throw new Error('expected the document to be rejected');
  return r.issues;
}
const paths = (issues: FieldIssue[]) => issues.map((i) => i.path);

/** A config.json using every part of runtime-spec v1.2 for Linux. */
function fullSpec(): Doc {
  return {
    ociVersion: '1.2.0',
    process: {
      terminal: false,
      consoleSize: { height: 25, width: 80 },
      user: { uid: 1000, gid: 1000, umask: 18, additionalGids: [5, 6], username: 'app' },
      args: ['/bin/sh', '-c', 'true'],
      env: ['PATH=/bin'],
      cwd: '/work',
      capabilities: {
        bounding: ['CAP_CHOWN'],
        effective: ['CAP_CHOWN'],
        inheritable: [],
        permitted: ['CAP_CHOWN'],
        ambient: [],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 4096, soft: 1024 }],
      noNewPrivileges: true,
      apparmorProfile: 'podkit-default',
      oomScoreAdj: -500,
      scheduler: { policy: 'SCHED_DEADLINE', nice: 0, priority: 0, flags: ['SCHED_FLAG_RESET_ON_FORK'], runtime: 10, deadline: 20, period: 30 },
      selinuxLabel: 'system_u:system_r:container_t:s0',
      ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 4 },
      execCPUAffinity: { initial: '0-1', final: '1' },
    },
    root: { path: '/var/lib/podkit/rootfs', readonly: false },
    hostname: 'box',
    domainname: 'example.org',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/data',
        type: 'bind',
        source: '/srv/data',
        options: ['rbind', 'idmap', 'rprivate'],
        uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      },
    ],
    hooks: {
      prestart: [{ path: '/usr/bin/hook' }],
      createRuntime: [{ path: '/usr/bin/hook', args: ['hook', 'createRuntime'], env: ['A=1'], timeout: 5 }],
      createContainer: [{ path: '/usr/bin/hook' }],
      startContainer: [{ path: '/usr/bin/hook' }],
      poststart: [{ path: '/usr/bin/hook' }],
      poststop: [{ path: '/usr/bin/hook' }],
    },
    annotations: { 'org.example.key': 'value' },
    linux: {
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      timeOffsets: { boottime: { secs: 100, nanosecs: 5 }, monotonic: { secs: -5 } },
      sysctl: { 'net.ipv4.ip_forward': '1' },
      resources: {
        devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }],
        memory: { limit: 536870912, reservation: 1, swap: -1, kernel: -1, kernelTCP: -1, swappiness: 0, disableOOMKiller: false, useHierarchy: true, checkBeforeUpdate: true },
        cpu: { shares: 1024, quota: 100000, burst: 0, period: 100000, realtimeRuntime: 0, realtimePeriod: 0, cpus: '0-3', mems: '0', idle: 0 },
        pids: { limit: 100 },
        blockIO: {
          weight: 500,
          leafWeight: 300,
          weightDevice: [{ major: 8, minor: 0, weight: 500, leafWeight: 300 }],
          throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
          throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
          throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
          throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
        },
        hugepageLimits: [{ pageSize: '2MB', limit: 209715200 }],
        network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 500 }] },
        rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
        unified: { 'memory.high': '400M' },
      },
      cgroupsPath: '/podkit/box',
      namespaces: [
        { type: 'pid' },
        { type: 'network', path: '/run/netns/box' },
        { type: 'mount' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'user' },
        { type: 'cgroup' },
        { type: 'time' },
      ],
      devices: [
        { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 438, uid: 0, gid: 0 },
        { path: '/dev/fifo', type: 'p' },
      ],
      netDevices: { eth1: { name: 'ctr1' } },
      seccomp: {
        defaultAction: 'SCMP_ACT_ERRNO',
        defaultErrnoRet: 1,
        architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_AARCH64'],
        flags: ['SECCOMP_FILTER_FLAG_LOG'],
        listenerPath: '/run/seccomp.sock',
        listenerMetadata: 'meta',
        syscalls: [
          { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
          {
            names: ['personality'],
            action: 'SCMP_ACT_ALLOW',
            args: [
              { index: 0, value: 0, op: 'SCMP_CMP_EQ' },
              { index: 0, value: 255, valueTwo: 8, op: 'SCMP_CMP_MASKED_EQ' },
            ],
          },
          { names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
        ],
      },
      rootfsPropagation: 'rslave',
      maskedPaths: ['/proc/kcore'],
      readonlyPaths: ['/proc/sys'],
      mountLabel: 'system_u:object_r:container_file_t:s0',
      intelRdt: { closID: 'guaranteed', l3CacheSchema: 'L3:0=7f0', memBwSchema: 'MB:0=20', enableCMT: true, enableMBM: true },
      personality: { domain: 'LINUX32', flags: [] },
    },
  };
}

describe('config.json (Spec)', () => {
  it("accepts the config Debian's runc spec printed (ociVersion 1.0.2-dev), rootful and rootless", () => {
    expect(runcSpec.ociVersion).toBe('1.0.2-dev');
    expect(validateSpec(runcSpec)).toBe(runcSpec);
    expect(validateSpec(runcSpecRootless)).toBe(runcSpecRootless);
  });

  it('accepts a config using every Linux field of v1.2', () => {
    expect(checkSpec(fullSpec())).toEqual({ ok: true, value: fullSpec() });
  });

  it('knows the fields runtime-spec 1.3 added (memoryPolicy, intelRdt schemata/enableMonitoring), so they are checked, not passed unseen', () => {
    const doc: Doc = { ...fullSpec(), ociVersion: '1.3.0' };
    doc['linux'].memoryPolicy = { mode: 'MPOL_INTERLEAVE', nodes: '0-1', flags: ['MPOL_F_STATIC_NODES'] };
    doc['linux'].intelRdt = { closID: 'gold', schemata: ['L3:0=7f0', 'MB:0=20'], enableMonitoring: true };
    expect(checkSpec(doc).ok).toBe(true);
    doc['linux'].memoryPolicy = { mode: 'MPOL_FAST', flags: ['MPOL_F_X'] };
    doc['linux'].intelRdt = { schemata: 'L3:0=7f0' };
    expect(issuesOf(checkSpec(doc)).map((i) => i.path).sort()).toEqual(['/linux/intelRdt/schemata', '/linux/memoryPolicy/flags/0', '/linux/memoryPolicy/mode']);
  });

  it('accepts the minimal config and any 1.x ociVersion, pre-releases and build metadata included', () => {
    for (const v of ['1.0.0', '1.0.2-dev', '1.1.0-rc.1', '1.2.0', '1.2.1+build.5', '1.3.0']) {
      expect(checkSpec({ ociVersion: v }).ok).toBe(true);
    }
  });

  it('rejects other ociVersions, naming /ociVersion', () => {
    for (const v of ['2.0.0', '0.9.0', '1.0', 'v1.0.0', '', '1.01.0']) {
      expect(issuesOf(checkSpec({ ociVersion: v }))).toEqual([{ path: '/ociVersion', reason: expect.stringMatching(/1\.x/) }]);
    }
    expect(paths(issuesOf(checkSpec({ ociVersion: 1 })))).toEqual(['/ociVersion']);
    expect(paths(issuesOf(checkSpec({})))).toEqual(['/ociVersion']);
  });

  it('rejects what is not an object', () => {
    for (const doc of [null, 'x', 3, []]) {
      expect(issuesOf(checkSpec(doc))).toEqual([{ path: '', reason: expect.stringMatching(/must be an object/) }]);
    }
  });

  it('ignores unknown properties at every level', () => {
    const doc = fullSpec();
    doc['solaris'] = { milestone: 'x' };
    doc['x-extension'] = 1;
    doc['process']['unknownKnob'] = true;
    doc['linux']['resources']['memory']['futureField'] = 'x';
    doc['linux']['namespaces'][0]['extra'] = 1;
    expect(validateSpec(doc)).toBe(doc);
  });

  it('names the path of an unknown value of every known enum', () => {
    const cases: Array<[string, (d: Doc) => void]> = [
      ['/linux/namespaces/2/type', (d) => (d['linux'].namespaces[2].type = 'foo')],
      ['/linux/seccomp/defaultAction', (d) => (d['linux'].seccomp.defaultAction = 'SCMP_ACT_MAYBE')],
      ['/linux/seccomp/syscalls/1/action', (d) => (d['linux'].seccomp.syscalls[1].action = 'ALLOW')],
      ['/linux/seccomp/syscalls/1/args/1/op', (d) => (d['linux'].seccomp.syscalls[1].args[1].op = 'SCMP_CMP_XOR')],
      ['/linux/seccomp/architectures/1', (d) => (d['linux'].seccomp.architectures[1] = 'SCMP_ARCH_VAX')],
      ['/linux/seccomp/flags/0', (d) => (d['linux'].seccomp.flags[0] = 'SECCOMP_FILTER_FLAG_FAST')],
      ['/linux/rootfsPropagation', (d) => (d['linux'].rootfsPropagation = 'recursive')],
      ['/linux/devices/0/type', (d) => (d['linux'].devices[0].type = 'x')],
      ['/linux/resources/devices/1/type', (d) => (d['linux'].resources.devices[1].type = 'u')],
      ['/linux/personality/domain', (d) => (d['linux'].personality.domain = 'LINUX64')],
      ['/process/rlimits/0/type', (d) => (d['process'].rlimits[0].type = 'RLIMIT_FOO')],
      ['/process/scheduler/policy', (d) => (d['process'].scheduler.policy = 'SCHED_FAST')],
      ['/process/scheduler/flags/0', (d) => (d['process'].scheduler.flags[0] = 'SCHED_FLAG_X')],
      ['/process/ioPriority/class', (d) => (d['process'].ioPriority.class = 'IOPRIO_CLASS_NONE')],
    ];
    for (const [path, mutate] of cases) {
      const doc = fullSpec();
      mutate(doc);
      const issues = issuesOf(checkSpec(doc));
      expect(issues).toEqual([{ path, reason: expect.stringMatching(/^unknown value ".*"; expected one of /) }]);
    }
  });

  it('reports every issue at once, each with its JSON pointer path', () => {
    const doc = fullSpec();
    doc['linux'].namespaces[2].type = 'foo';
    doc['process'].rlimits[0].hard = -1;
    delete doc['process'].cwd;
    doc['process'].user.uid = 'root';
    doc['process'].capabilities.bounding[0] = 'chown';
    doc['process'].oomScoreAdj = 2000;
    doc['mounts'][1].destination = '';
    doc['mounts'][0].options = 'ro';
    doc['hooks'].poststop[0].path = 'relative/hook';
    doc['hooks'].createRuntime[0].timeout = 0;
    doc['linux'].resources.memory.limit = 1.5;
    doc['linux'].resources.blockIO.weight = 70000;
    doc['linux'].resources.devices[1].access = 'rwx';
    doc['linux'].seccomp.syscalls[0].names = [];
    doc['linux'].seccomp.syscalls[1].args[0].index = 6;
    doc['linux'].uidMappings[0].size = -1;
    doc['linux'].sysctl['a'] = 1;
    doc['annotations'] = { k: false };
    doc['root'] = { readonly: 'yes' };
    let err: InvalidArgumentError | undefined;
    try {
      validateSpec(doc);
    } catch (e) {
      err = e as InvalidArgumentError;
    }
    expect(isInvalidArgument(err)).toBe(true);
    expect(err!.message).toMatch(/^invalid config\.json: /);
    expect(new Set(paths(err!.details!.issues!))).toEqual(
      new Set([
        '/linux/namespaces/2/type',
        '/process/rlimits/0/hard',
        '/process/cwd',
        '/process/user/uid',
        '/process/capabilities/bounding/0',
        '/process/oomScoreAdj',
        '/mounts/1/destination',
        '/mounts/0/options',
        '/hooks/poststop/0/path',
        '/hooks/createRuntime/0/timeout',
        '/linux/resources/memory/limit',
        '/linux/resources/blockIO/weight',
        '/linux/resources/devices/1/access',
        '/linux/seccomp/syscalls/0/names',
        '/linux/seccomp/syscalls/1/args/0/index',
        '/linux/uidMappings/0/size',
        '/linux/sysctl/a',
        '/annotations/k',
        '/root/path',
        '/root/readonly',
      ]),
    );
    const byPath = new Map(err!.details!.issues!.map((i) => [i.path, i.reason]));
    expect(byPath.get('/process/cwd')).toBe('is required');
    expect(byPath.get('/process/user/uid')).toBe('must be an integer, got string');
    expect(byPath.get('/process/rlimits/0/hard')).toBe('must be >= 0, got -1');
    expect(byPath.get('/process/oomScoreAdj')).toBe('must be <= 1000, got 2000');
    expect(byPath.get('/hooks/poststop/0/path')).toMatch(/absolute path/);
    expect(byPath.get('/linux/resources/memory/limit')).toBe('must be an integer, got number');
    expect(byPath.get('/linux/seccomp/syscalls/0/names')).toBe('must not be empty');
    expect(byPath.get('/process/capabilities/bounding/0')).toMatch(/capability name/);
    expect(err!.details!.field).toBe(err!.details!.issues![0]!.path);
  });

  it('rejects duplicated namespaces, idmapped mounts without both mappings, devices without numbers', () => {
    const doc = fullSpec();
    doc['linux'].namespaces.push({ type: 'pid', path: '/proc/1/ns/pid' });
    delete doc['mounts'][1].gidMappings;
    delete doc['linux'].devices[0].minor;
    expect(issuesOf(checkSpec(doc))).toEqual([
      { path: '/mounts/1/gidMappings', reason: 'is required when uidMappings is set' },
      { path: '/linux/namespaces/8/type', reason: 'duplicate namespace type "pid" (first at index 0)' },
      { path: '/linux/devices/0/minor', reason: 'is required for device type "c"' },
    ]);
  });

  it('reports the cross-field problems together with the schema ones', () => {
    const doc = fullSpec();
    doc['linux'].namespaces.push({ type: 'pid' });
    doc['process'].args = [];
    doc['process'].user.uid = -1;
    doc['mounts'] = 'none';
    expect(issuesOf(checkSpec(doc))).toEqual([
      { path: '/process/user/uid', reason: 'must be >= 0, got -1' },
      { path: '/mounts', reason: 'must be an array, got string' },
      { path: '/process/args', reason: 'must have at least one entry (the program to run)' },
      { path: '/linux/namespaces/8/type', reason: 'duplicate namespace type "pid" (first at index 0)' },
    ]);
    const bad = fullSpec();
    bad['process'].args = 'sh';
    expect(issuesOf(checkSpec(bad))).toEqual([{ path: '/process/args', reason: 'must be an array, got string' }]);
  });

  it('requires user and time namespaces for id mappings and time offsets', () => {
    const doc = fullSpec();
    doc['linux'].namespaces = [{ type: 'pid' }, { type: 'mount' }];
    expect(paths(issuesOf(checkSpec(doc)))).toEqual(['/linux/timeOffsets', '/linux/uidMappings']);
  });

  it('requires the program to run in process.args', () => {
    const doc = clone(runcSpec) as Doc;
    doc['process'].args = [];
    expect(issuesOf(checkSpec(doc))).toEqual([{ path: '/process/args', reason: 'must have at least one entry (the program to run)' }]);
    delete doc['process'].args;
    expect(paths(issuesOf(checkSpec(doc)))).toEqual(['/process/args']);
  });

  it('escapes "/" and "~" in object keys of the reported path (RFC 6901)', () => {
    const doc = clone(runcSpec) as Doc;
    doc['annotations'] = { 'io.podkit/a~b': 7 };
    expect(paths(issuesOf(checkSpec(doc)))).toEqual(['/annotations/io.podkit~1a~0b']);
  });

  it('keeps the message short and counts the rest', () => {
    const doc = clone(runcSpec) as Doc;
    doc['mounts'] = Array.from({ length: 8 }, () => ({ destination: 5 }));
    expect(() => validateSpec(doc)).toThrow(/and 3 more$/);
  });
});

describe('defaultSpec', () => {
  it('is the config runc spec prints, with ociVersion 1.2.0', () => {
    expect(OCI_VERSION).toBe('1.2.0');
    expect(defaultSpec()).toEqual({ ...runcSpec, ociVersion: '1.2.0' });
    expect(validateSpec(defaultSpec())).toBeTruthy();
  });

  it('matches runc spec --rootless for the rootless variant', () => {
    expect(defaultSpec({ rootless: true, uid: 0, gid: 0 })).toEqual({ ...runcSpecRootless, ociVersion: '1.2.0' });
    const s = defaultSpec({ rootless: true, uid: 1234, gid: 99 });
    expect(s.linux!.uidMappings).toEqual([{ containerID: 0, hostID: 1234, size: 1 }]);
    expect(s.linux!.gidMappings).toEqual([{ containerID: 0, hostID: 99, size: 1 }]);
    expect(validateSpec(s)).toBe(s);
  });

  it('takes args, terminal and the root path, and returns a fresh object each time', () => {
    const s = defaultSpec({ args: ['/bin/true'], terminal: false, rootPath: '/x/rootfs' });
    expect(s.process!.args).toEqual(['/bin/true']);
    expect(s.process!.terminal).toBe(false);
    expect(s.root!.path).toBe('/x/rootfs');
    s.process!.capabilities!.bounding!.push('CAP_SYS_ADMIN');
    expect(defaultSpec().process!.capabilities!.bounding).not.toContain('CAP_SYS_ADMIN');
  });
});

/** Directories of PATH holding an executable `runc` (also sbin, where Debian installs it). */
function findRunc(): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  return dirs.map((d) => join(d, 'runc')).find((p) => p !== 'runc' && existsSync(p));
}

const runc = findRunc();
describe(runc === undefined ? 'live runc (skipped: no runc on PATH)' : `live runc (${runc})`, () => {
  const live = runc === undefined ? it.skip : it;

  live('regenerates the fixture with runc spec and validates it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oci-spec-runc-'));
    try {
      execFileSync(runc!, ['spec'], { cwd: dir, stdio: 'pipe' });
      const generated: unknown = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      expect(validateSpec(generated)).toEqual(generated);
      // The committed fixture is what this runc prints (regenerate it when Debian's runc changes).
      const version = execFileSync(runc!, ['--version'], { encoding: 'utf8' });
      if (/^spec: 1\.0\.2-dev$/m.test(version)) expect(generated).toEqual(runcSpec);
      rmSync(join(dir, 'config.json'));
      execFileSync(runc!, ['spec', '--rootless'], { cwd: dir, stdio: 'pipe' });
      expect(checkSpec(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).ok).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  live('validates the features document runc features prints', () => {
    const doc: unknown = JSON.parse(execFileSync(runc!, ['features'], { encoding: 'utf8' }));
    expect(validateFeatures(doc)).toEqual(doc);
  });
});

describe('process.json', () => {
  it('accepts the process of a config and a minimal one', () => {
    expect(validateProcess(runcSpec.process)).toBe(runcSpec.process);
    expect(checkProcess({ cwd: '/', args: ['ls'] }).ok).toBe(true);
  });

  it('rejects bad ones with root-relative paths', () => {
    expect(issuesOf(checkProcess({ args: [], cwd: 'tmp', user: { uid: -1, gid: 0 }, terminal: 'yes' }))).toEqual([
      { path: '/terminal', reason: 'must be a boolean, got string' },
      { path: '/user/uid', reason: 'must be >= 0, got -1' },
      { path: '/cwd', reason: 'must be an absolute path, got "tmp"' },
      { path: '/args', reason: 'must have at least one entry (the program to run)' },
    ]);
    expect(issuesOf(checkProcess({ cwd: '/', args: [] }))).toEqual([{ path: '/args', reason: 'must have at least one entry (the program to run)' }]);
    expect(() => validateProcess({})).toThrow(/^invalid process\.json: \/cwd: is required/);
  });
});

describe('state.json', () => {
  const state = { ociVersion: '1.2.0', id: 'box', status: 'running', pid: 4242, bundle: '/run/box', annotations: { a: 'b' } };

  it('accepts every status', () => {
    expect(validateState(state)).toBe(state);
    expect(checkState({ ociVersion: '1.0.2-dev', id: 'x', status: 'creating', bundle: '/b' }).ok).toBe(true);
    expect(checkState({ ociVersion: '1.0.2', id: 'x', status: 'stopped', pid: 0, bundle: '/b' }).ok).toBe(true);
    expect(checkState({ ...state, status: 'created' }).ok).toBe(true);
  });

  it('rejects unknown status, missing fields and a running container without pid', () => {
    expect(issuesOf(checkState({ ...state, status: 'paused' }))).toEqual([
      { path: '/status', reason: 'unknown value "paused"; expected one of "creating", "created", "running", "stopped"' },
    ]);
    expect(paths(issuesOf(checkState({ ociVersion: '1.2.0', status: 'running' })))).toEqual(['/id', '/bundle', '/pid']);
    const { pid: _pid, ...noPid } = state;
    expect(issuesOf(checkState(noPid))).toEqual([{ path: '/pid', reason: 'is required when status is "running"' }]);
    expect(() => validateState({ ...state, pid: -3, bundle: 'rel' })).toThrow(/^invalid state\.json: \/pid: must be >= 0, got -3; \/bundle: must be an absolute path/);
  });
});

describe('features', () => {
  it("accepts the committed output of Debian's runc features", () => {
    expect(validateFeatures(runcFeatures)).toBe(runcFeatures);
  });

  it('rejects bad ones with their paths', () => {
    const doc = clone(runcFeatures) as Doc;
    doc['ociVersionMax'] = '2.0.0';
    doc['hooks'] = 'prestart';
    doc['linux'].cgroup.v2 = 'yes';
    delete doc['ociVersionMin'];
    expect(paths(issuesOf(checkFeatures(doc)))).toEqual(['/ociVersionMin', '/ociVersionMax', '/hooks', '/linux/cgroup/v2']);
  });
});

describe('type shape', () => {
  it('Spec is assignable from the runc fixture after validation', () => {
    const s: Spec = validateSpec(clone(runcSpec));
    expect(s.linux?.namespaces?.map((n) => n.type)).toEqual(['pid', 'network', 'ipc', 'uts', 'mount']);
  });
});
