/**
 * Every field of the runtime-spec config for Linux is applied or refused with its path: the table in
 * coverage-table.ts against the one source of the fields, the TypeBox schema of @podkit/oci-spec.
 *
 * - a schema path missing from the table fails (a new spec field cannot be ignored silently), and so
 *   does a table entry the schema no longer has;
 * - every `refused` entry is laid over a valid base config and must be rejected by the validator or
 *   the plan builder with an issue naming the field; so must every `refusedOn` of an applied field,
 *   on a model of the host that lacks the feature (this machine's cgroup v1, cgroup v2, no resctrl);
 * - every `applied` entry names a test file that exists and mentions the field (a cheap guard
 *   against a stale table).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FieldIssue } from '@podkit/errdefs';
import { checkSpec, defaultSpec, schemaOf, type LinuxResources, type Spec } from '@podkit/oci-spec';
import { resourceWarnings } from '../cgroups/backend';
import { ALL_CONTROLLERS, V1_CONTROLLER_FILES } from '../cgroups/fake-tree';
import { planResourcesV1, type V1Host } from '../cgroups/v1';
import { planResourcesV2 } from '../cgroups/v2';
import { intelRdtIssues } from '../intelrdt/resctrl';
import { buildCreatePlan } from './build';
import { COVERAGE, OTHER_PLATFORMS, compressPaths, coverageMarkdown, expectedPath, names, schemaLeafPaths, type Coverage, type Fragment, type Host } from './coverage-table';

const SRC = path.resolve(__dirname, '..');
const REPO = path.resolve(SRC, '../../..');

/** The v1 controllers this machine mounts (the rest, net_cls, net_prio, hugetlb and rdma, it does not). */
const HERE_V1 = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids'];

/** BFQ's weight files: in every non-root blkio cgroup here, since the bfq module is loaded. */
const HERE_BFQ: Record<string, string> = { 'blkio.bfq.weight': 'default 100', 'blkio.bfq.weight_device': '' };

/** This machine's cgroup v1 as the planner sees it: its controllers, with the files its kernel shows, less `without`. */
function hereV1(without: readonly string[] = []): V1Host {
  const file = (c: string, f: string) => (without.includes(f) ? undefined : (V1_CONTROLLER_FILES[c]?.[f] ?? (c === 'blkio' ? HERE_BFQ[f] : undefined)));
  return { mounted: (c) => HERE_V1.includes(c), has: (c, f) => file(c, f) !== undefined, read: file };
}

const ctx = { bundle: '/bundle', execFifo: '/run/podkit-test/exec.fifo', cgroupMounts: [] };

function base(): Spec {
  return defaultSpec({ terminal: false, args: ['sh'] });
}

function isPlain(x: unknown): x is Fragment {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** `over` laid over `into`: objects merge, anything else replaces. */
function merge(into: Fragment, over: Fragment): Fragment {
  const out: Fragment = { ...into };
  for (const [k, v] of Object.entries(over)) out[k] = isPlain(v) && isPlain(out[k]) ? merge(out[k] as Fragment, v) : v;
  return out;
}

function withFragment(set: Fragment): Spec {
  return merge(base() as unknown as Fragment, set) as unknown as Spec;
}

/** The FieldIssues of a thrown InvalidArgument (its `issues`, or its one `field`). */
function caught(fn: () => unknown): FieldIssue[] {
  try {
    fn();
    return [];
  } catch (err) {
    const d = (err as { details?: { issues?: FieldIssue[]; field?: string } }).details;
    if (d?.issues) return d.issues;
    if (d?.field) return [{ path: d.field, reason: (err as Error).message }];
    throw err;
  }
}

/**
 * Every problem the runtime finds in a config on a host: the schema and cross-field checks, the plan
 * builder (on this host), and the resources and Intel RDT checks of the given host model.
 */
function issuesOn(doc: Spec, host: Host, without: readonly string[] = []): FieldIssue[] {
  const out: FieldIssue[] = [];
  const checked = checkSpec(doc);
  if (!checked.ok) out.push(...checked.issues);
  out.push(...caught(() => buildCreatePlan(doc, ctx)));
  const r: LinuxResources | undefined = doc.linux?.resources;
  if (r) {
    if (host === 'v2') out.push(...caught(() => planResourcesV2(r, () => true, ALL_CONTROLLERS)));
    else out.push(...caught(() => planResourcesV1(r, hereV1(without))));
  }
  if (host === 'no-resctrl' && doc.linux?.intelRdt) out.push(...intelRdtIssues(doc.linux.intelRdt, 'c1', undefined));
  return out;
}

const entries = Object.entries(COVERAGE);
const byKind = <K extends Coverage['kind']>(k: K) => entries.filter((e): e is [string, Extract<Coverage, { kind: K }>] => e[1].kind === k);

describe('runtime-spec coverage: the table against the schema', () => {
  const schemaPaths = schemaLeafPaths(schemaOf('spec'));

  it('walks properties, array items, map values and union branches to their leaves', () => {
    const s = {
      type: 'object',
      properties: {
        a: { type: 'string' },
        list: { type: 'array', items: { type: 'object', properties: { x: { type: 'integer' } } } },
        map: { type: 'object', patternProperties: { '^(.*)$': { type: 'string' } } },
        extra: { type: 'object', additionalProperties: { type: 'object', properties: { y: { type: 'boolean' } } } },
        either: { anyOf: [{ type: 'string' }, { type: 'object', properties: { z: { type: 'string' } } }] },
        strings: { type: 'array', items: { type: 'string' } },
      },
    };
    expect(schemaLeafPaths(s)).toEqual(['/a', '/list/*/x', '/map/*', '/extra/*/y', '/either', '/either/z', '/strings/*']);
  });

  it('finds the config fields of the schema (a sample of each kind of place)', () => {
    expect(schemaPaths.length).toBeGreaterThan(150);
    for (const p of ['/ociVersion', '/process/user/uid', '/process/args/*', '/annotations/*', '/linux/resources/rdma/*/hcaHandles', '/linux/netDevices/*/name', '/linux/seccomp/syscalls/*/args/*/valueTwo']) {
      expect(schemaPaths).toContain(p);
    }
  });

  it('has an entry for every path of the schema (a new spec field must be applied or refused, never dropped)', () => {
    expect(schemaPaths.filter((p) => COVERAGE[p] === undefined)).toEqual([]);
  });

  it('has no entry the schema no longer has', () => {
    expect(Object.keys(COVERAGE).filter((p) => !schemaPaths.includes(p))).toEqual([]);
  });

  it('knows no other platform section in the Linux schema; a config carrying them is accepted and they change nothing', () => {
    const props = Object.keys((schemaOf('spec') as { properties: Record<string, unknown> }).properties);
    for (const p of Object.keys(OTHER_PLATFORMS)) expect(props).not.toContain(p.slice(1));
    const doc = withFragment({
      windows: { layerFolders: ['C:\\layers\\base'], resources: { memory: { limit: 1 } } },
      solaris: { milestone: 'svc:/milestone/container:default' },
      vm: { hypervisor: { path: '/usr/bin/qemu' }, kernel: { path: '/boot/vmlinuz' } },
      zos: { devices: [] },
      freebsd: { devices: [] },
    });
    expect(issuesOn(doc, 'v1-here')).toEqual([]);
    expect(buildCreatePlan(doc, ctx).plan).toEqual(buildCreatePlan(base(), ctx).plan);
  });
});

describe('runtime-spec coverage: refused fields are refused with their path', () => {
  it.each(['v1-here', 'v2', 'no-resctrl'] as const)('the base config passes every check on %s', (host) => {
    expect(issuesOn(base(), host)).toEqual([]);
  });

  it('tells applied from refused: applied fields laid over the base config raise no issue on this host', () => {
    const samples: Fragment[] = [
      { process: { user: { uid: 1000, gid: 1000, umask: 0o27, additionalGids: [5] }, oomScoreAdj: 100, ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 4 } } },
      { linux: { sysctl: { 'kernel.shmmax': '1000000', 'net.ipv4.ip_forward': '1' }, personality: { domain: 'LINUX32' } } },
      { linux: { resources: { memory: { limit: 1 << 26, swappiness: 10 }, cpu: { shares: 512, quota: 50000, period: 100000 }, pids: { limit: 64 } } } },
      { linux: { resources: { blockIO: { weight: 500, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }] } } } },
      { linux: { seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] } } },
    ];
    for (const set of samples) expect(issuesOn(withFragment(set), 'v1-here')).toEqual([]);
  });

  const refusedCases = byKind('refused').map(([p, c]) => [p, c] as const);
  it.each(refusedCases)('%s', (p, c) => {
    const want = expectedPath(p, c.at);
    const issues = issuesOn(withFragment(c.set), 'v1-here');
    if (!names(issues, want)) throw new Error(`${p}: expected an issue at ${want}, got ${JSON.stringify(issues)}`);
  });

  const hostCases = byKind('applied').flatMap(([p, c]) => (c.refusedOn ?? []).map((r) => [p, r.on, r] as const));
  it.each(hostCases)('%s is refused on %s', (p, _on, r) => {
    const want = expectedPath(p, r.at);
    const issues = issuesOn(withFragment(r.set), r.on, r.without);
    if (!names(issues, want)) throw new Error(`${p} on ${r.on}: expected an issue at ${want}, got ${JSON.stringify(issues)}`);
  });
});

describe('runtime-spec coverage: applied fields name a test that shows them', () => {
  const files = new Map<string, string>();
  const read = (test: string): string | undefined => {
    const file = test.startsWith('e2e/') || test.startsWith('packages/') ? path.join(REPO, test) : path.join(SRC, test);
    if (!files.has(file)) files.set(file, fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
    return files.get(file) || undefined;
  };
  const named = entries.filter((e): e is [string, Extract<Coverage, { kind: 'applied' | 'ignored-by-spec' }>] => e[1].kind !== 'refused');
  it.each(named)('%s', (p, c) => {
    const text = read(c.test);
    if (text === undefined) throw new Error(`${p}: test file ${c.test} does not exist`);
    const word = c.mentions ?? (p.split('/').filter((s) => s !== '*').pop() as string);
    if (!text.includes(word)) throw new Error(`${p}: ${c.test} does not mention "${word}"`);
  });
});

describe('runtime-spec coverage: the README table', () => {
  it('writes runs of paths compactly', () => {
    expect(compressPaths(['/a'])).toBe('/a');
    expect(compressPaths(['/t/b/secs', '/t/b/nanosecs', '/t/m/secs', '/t/m/nanosecs'])).toBe('/t/{b, m}/{secs, nanosecs}');
    expect(compressPaths(['/a/x/*/p', '/a/y/*/p', '/a/z'])).toBe('/a/{x/*/p, y/*/p, z}');
  });

  it('README.md "Runtime-spec coverage" holds the table as it is now', () => {
    const readme = fs.readFileSync(path.join(SRC, '..', 'README.md'), 'utf8');
    if (!readme.includes(coverageMarkdown())) throw new Error(`README.md's coverage table is stale; put this in its place:\n${coverageMarkdown()}`);
  });
});

describe('runtime-spec coverage: fields no other test shows', () => {
  it('memory.useHierarchy is written to memory.use_hierarchy on v1, and v2 refuses false (always hierarchical)', () => {
    expect(planResourcesV1({ memory: { useHierarchy: true } }, hereV1())).toEqual([
      { controller: 'memory', file: 'memory.use_hierarchy', value: '1', field: '/linux/resources/memory/useHierarchy' },
    ]);
    expect(planResourcesV2({ memory: { useHierarchy: true } }, () => true)).toEqual([]);
  });

  it('memory.kernel is ignored with a warning naming it, as the spec allows (no write, on v1 or v2)', () => {
    expect(resourceWarnings({ memory: { kernel: 1 << 20 } })).toEqual([expect.stringContaining('/linux/resources/memory/kernel')]);
    expect(planResourcesV1({ memory: { kernel: 1 << 20 } }, hereV1())).toEqual([]);
    expect(planResourcesV2({ memory: { kernel: 1 << 20 } }, () => true)).toEqual([]);
    expect(buildCreatePlan(withFragment({ linux: { resources: { memory: { kernel: 1 << 20 } } } }), ctx).warnings).toContainEqual(expect.stringContaining('/linux/resources/memory/kernel'));
  });
});
