/**
 * `podrun events --stats` prints runc's stats shape: the same container (busybox `sleep`, a pids limit,
 * a relative cgroupsPath) run by podrun and by Debian's runc, and the two JSON documents compared key by
 * key (order and types; values differ). A key may be missing on one side only where runc's Go struct
 * has `omitempty` and the value is zero on that side. Needs root, /bin/busybox and runc.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Spec } from '@podkit/oci-spec';
import { pidfdOpen, setChildSubreaper, watchExit } from '@podkit/runtime-core/sys';
import { buildBusyboxBundle, busyboxAvailable, writeSpec } from './rootfs';

const PODRUN = path.resolve(__dirname, '../../../packages/runtime-core/bin/podrun');
const RUNC = ['/usr/sbin/runc', '/usr/bin/runc', '/sbin/runc', '/bin/runc'].find((f) => fs.existsSync(f));
const root = process.getuid?.() === 0;
const skipReason = !root ? 'needs root' : !busyboxAvailable() ? 'needs /bin/busybox' : !RUNC ? 'needs runc (the reference)' : undefined;
if (skipReason) console.warn(`events --stats e2e: skipped (${skipReason})`);
const maybe = skipReason ? it.skip : it;

/** Paths of runc's omitempty fields (`*` is any key): absent on one side when zero there. */
const OMITEMPTY = [
  'cpu.usage.total',
  'cpu.usage.percpu',
  'cpu.usage.percpu_kernel',
  'cpu.usage.percpu_user',
  'cpu.throttling.*',
  'cpuset.cpus',
  'cpuset.mems',
  'memory.cache',
  'memory.*.usage',
  'memory.*.max',
  'memory.raw',
  'pids.*',
  'blkio.*',
  'hugetlb.*.usage',
  'hugetlb.*.max',
];

const omittable = (p: string) => OMITEMPTY.some((pat) => new RegExp(`^${pat.replace(/\./g, '\\.').replace(/\*/g, '[^.]+')}$`).test(p));
const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const empty = (v: unknown) => v === 0 || (Array.isArray(v) && v.length === 0) || (kind(v) === 'object' && Object.keys(v as object).length === 0);

/** Differences in structure between `ours` and runc's `ref`, as readable lines. */
function shapeDiff(ours: unknown, ref: unknown, at = ''): string[] {
  const problems: string[] = [];
  if (kind(ours) !== kind(ref)) return [`${at || '.'}: ${kind(ours)} here, ${kind(ref)} in runc`];
  if (Array.isArray(ours) && Array.isArray(ref)) {
    for (const v of [...ours, ...ref]) if (kind(v) !== kind(ref[0] ?? ours[0])) problems.push(`${at}[]: mixed element types`);
    if (ours[0] !== undefined && ref[0] !== undefined) problems.push(...shapeDiff(ours[0], ref[0], `${at}[]`));
    return problems;
  }
  if (kind(ours) !== 'object') return problems;
  const a = ours as Record<string, unknown>;
  const b = ref as Record<string, unknown>;
  const common = (keys: string[], other: Record<string, unknown>) => keys.filter((k) => k in other);
  // raw is memory.stat: the same kernel files, so the same keys (in Go's sorted map order).
  if (at === 'memory.raw' && JSON.stringify(Object.keys(a)) !== JSON.stringify(Object.keys(b))) problems.push(`${at}: keys ${Object.keys(a).join(',')} here, ${Object.keys(b).join(',')} in runc`);
  if (JSON.stringify(common(Object.keys(a), b)) !== JSON.stringify(common(Object.keys(b), a))) problems.push(`${at || '.'}: key order ${Object.keys(a).join(',')} here, ${Object.keys(b).join(',')} in runc`);
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const p = at ? `${at}.${k}` : k;
    if (k in a && k in b) problems.push(...shapeDiff(a[k], b[k], p));
    else if (!omittable(p)) problems.push(`${p}: ${k in a ? 'only here' : 'missing here'} (runc always prints it)`);
    else if (k in a && empty(a[k])) problems.push(`${p}: printed empty here, runc omits empty values`);
  }
  return problems;
}

describe('events --stats: the shape of runc', () => {
  let work: string;
  const started: { bin: string; state: string; id: string }[] = [];
  const reapers: Promise<unknown>[] = [];

  beforeAll(() => {
    if (skipReason) return;
    // Detached containers are re-parented to us (the caller's subreaper, as containerd's shim is) and reaped here.
    setChildSubreaper(true);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-e2e-stats-'));
  });

  afterAll(async () => {
    for (const c of started) spawnSync(c.bin, ['--root', c.state, 'delete', '--force', c.id], { stdio: 'ignore', timeout: 30_000 });
    await Promise.all(reapers);
    // jest runs every e2e file in this one process (--runInBand): stop being a subreaper for later suites.
    if (!skipReason) setChildSubreaper(false);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  function statsOf(name: string, bin: string): { type: string; id: string; data: Record<string, unknown> } {
    const bundle = path.join(work, `bundle-${name}`);
    const state = path.join(work, `state-${name}`);
    const spec: Spec = buildBusyboxBundle(bundle);
    spec.process = { ...spec.process, args: ['sleep', '1000'], cwd: '/', terminal: false } as Spec['process'];
    spec.linux = { ...spec.linux, cgroupsPath: `podkit-e2e-stats-${process.pid}-${name}`, resources: { ...spec.linux?.resources, pids: { limit: 50 } } };
    delete spec.linux.resources?.memory;
    writeSpec(bundle, spec);
    const id = `e2e-stats-${name}-${process.pid}`;
    // stderr into a file: the detached container keeps it open, so a pipe would not see EOF.
    const errFile = path.join(work, `run-${name}.err`);
    const err = fs.openSync(errFile, 'w');
    let run;
    try {
      run = spawnSync(bin, ['--root', state, 'run', '-d', id], { cwd: bundle, stdio: ['ignore', 'ignore', err], timeout: 60_000 });
    } finally {
      fs.closeSync(err);
    }
    expect(fs.readFileSync(errFile, 'utf8').replace(/^.*warning.*\n/gm, '')).toBe('');
    expect(run.status).toBe(0);
    started.push({ bin, state, id });
    const st = spawnSync(bin, ['--root', state, 'state', id], { encoding: 'utf8', timeout: 30_000 });
    const fd = pidfdOpen((JSON.parse(st.stdout) as { pid: number }).pid);
    reapers.push(watchExit(fd).exited.finally(() => fs.closeSync(fd)));
    const ev = spawnSync(bin, ['--root', state, 'events', '--stats', id], { encoding: 'utf8', timeout: 30_000 });
    expect(ev.status).toBe(0);
    return JSON.parse(ev.stdout);
  }

  maybe('prints the same keys, in the same order, with the same types as runc', () => {
    const ours = statsOf('podrun', PODRUN);
    const ref = statsOf('runc', RUNC as string);
    expect(Object.keys(ours)).toEqual(Object.keys(ref));
    expect(ours.type).toBe('stats');
    expect(Object.keys(ours.data)).toEqual(['cpu', 'cpuset', 'memory', 'pids', 'blkio', 'hugetlb', 'intel_rdt', 'network_interfaces']);
    expect(shapeDiff(ours.data, ref.data)).toEqual([]);
    // The same container, so the same live values where they are not counters.
    expect(ours.data['pids']).toEqual({ current: 1, limit: 50 });
    expect(ours.data['pids']).toEqual(ref.data['pids']);
    expect(ours.data['cpuset']).toEqual(ref.data['cpuset']);
  });

  it('finds a wrong shape (the comparison is not vacuous)', () => {
    const ref = { cpu: { usage: { total: 1, kernel: 0 } }, pids: {}, memory: { raw: { a: 1, b: 2 } } };
    expect(shapeDiff(ref, ref)).toEqual([]);
    expect(shapeDiff({ cpu: { usage: { kernel: 0, total: 1 } }, pids: {}, memory: { raw: { a: 1, b: 2 } } }, ref)).toEqual([expect.stringMatching(/^cpu.usage: key order/)]);
    expect(shapeDiff({ cpu: { usage: { total: 1 } }, pids: { current: 0 }, memory: { raw: { b: 2, a: 1 } } }, ref)).toEqual([
      'cpu.usage.kernel: missing here (runc always prints it)',
      'pids.current: printed empty here, runc omits empty values',
      expect.stringMatching(/^memory.raw: keys b,a here/),
      expect.stringMatching(/^memory.raw: key order/),
    ]);
    expect(shapeDiff({ cpu: { usage: { total: '1', kernel: 0 } }, pids: {}, memory: { raw: { a: 1, b: 2 } } }, ref)).toEqual(['cpu.usage.total: string here, number in runc']);
  });
});
