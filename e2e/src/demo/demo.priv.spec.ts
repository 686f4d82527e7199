/**
 * The demo (`npm run demo`, tools/dist/demo/main.js) end to end, as a user runs it: the built program,
 * real processes, plugins, registry and kernel objects. It asserts every check the program prints, and
 * that a run killed with SIGKILL at several steps is cleaned up by the next run's teardown, which this
 * test then verifies on its own (mounts, processes, cgroups, veths, folders), not only through the
 * program's word. Everything lives under a temporary folder (TMPDIR too, so the registry's storage does).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const repo = path.resolve(__dirname, '..', '..', '..');
const program = path.join(repo, 'tools', 'dist', 'demo', 'main.js');
const needs = ['/usr/lib/cni/bridge', '/usr/bin/docker-registry', '/bin/busybox'];
const missing = needs.filter((f) => !fs.existsSync(f));
const hasSkopeo = spawnSync('which', ['skopeo']).status === 0;
const enabled = process.getuid?.() === 0 && missing.length === 0 && hasSkopeo;
if (!enabled) console.warn(`demo e2e skipped: ${process.getuid?.() !== 0 ? 'needs root' : `missing ${[...missing, ...(hasSkopeo ? [] : ['skopeo'])].join(', ')}`}`);
const suite = enabled ? describe : describe.skip;

jest.setTimeout(240_000);

/** The check lines a good run prints (each must appear as PASS). */
const CHECKS = [
  /^PASS pulled the image the registry serves/,
  /^PASS the three snapshots share the image's read-only layer snapshots and each has its own upper dir/,
  /^PASS the three containers report the same network namespace net:\[\d+\]/,
  /^PASS a0 and a1 joined the pause container's IPC and UTS namespaces/,
  /^PASS a1 shares the pause container UTS namespace/,
  /^PASS a0 has its own PID namespace/,
  /^PASS a0 touched \/a0-was-here: it is in a0's upper dir only, not in the lower layers, not in a1/,
  /^PASS a1 fetched a page from the server \(httpd\) in a0 over 127\.0\.0\.1/,
  /^PASS the pod has its IP 10\.88\.77\.\d+ from 10\.88\.77\.0\/24 on eth0/,
  ...['processes', 'mounts', 'namespaces', 'veths', 'IP leases', 'cgroups', 'snapshots', 'state folders'].map((k) => new RegExp(`^PASS teardown: no ${k}`)),
];
const CLEANUP = ['processes', 'mounts', 'namespaces', 'veths', 'IP leases', 'cgroups', 'snapshots', 'state folders'].map((k) => new RegExp(`^PASS previous run: no ${k}`));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: string[];
  stderr: string;
}

suite('the demo: the tutorial pod from scratch', () => {
  let work: string;
  let runDir: string;
  let dataDir: string;
  let tmp: string;

  beforeAll(() => {
    if (!fs.existsSync(program)) throw new Error(`${program} is missing: build tools first (npx tsc -p tools/tsconfig.lib.json)`);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-e2e-demo-'));
    runDir = path.join(work, 'run');
    dataDir = path.join(work, 'data');
    tmp = path.join(work, 'tmp');
    fs.mkdirSync(tmp);
  });

  afterAll(async () => {
    if (!work) return;
    // Whatever a failed test left: the program's own teardown, then the folder.
    if (fs.existsSync(path.join(runDir, 'demo-state.json'))) await demo(['--cleanup']);
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** Runs the program; with `killOn`, sends SIGKILL when a stdout line matches it. */
  function demo(args: string[] = [], killOn?: RegExp): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [program, '--run-dir', runDir, '--data-dir', dataDir, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, TMPDIR: tmp, PATH: `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin` },
      });
      const lines: string[] = [];
      let partial = '';
      let stderr = '';
      let killed = false;
      child.stdout.on('data', (c: Buffer) => {
        const parts = (partial + c.toString()).split('\n');
        partial = parts.pop() ?? '';
        for (const l of parts) {
          lines.push(l);
          if (killOn && !killed && killOn.test(l)) {
            killed = true;
            child.kill('SIGKILL');
          }
        }
      });
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code, signal) => {
        if (partial) lines.push(partial);
        resolve({ code, signal, lines, stderr });
      });
    });
  }

  /** The test's own look at the machine: nothing of the demo may be left. */
  function assertNothingLeft(out: string[]): void {
    const mounts = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes(work));
    expect(mounts).toEqual([]);
    const procs: string[] = [];
    for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        const root = fs.readlinkSync(`/proc/${pid}/root`);
        if (cmd.includes(work) || root.startsWith(work)) procs.push(`${pid}: ${cmd.replace(/\0/g, ' ')}`);
      } catch {
        /* exited, or not ours to read */
      }
    }
    expect(procs).toEqual([]);
    // Cgroups the runtime made beneath our own cgroup, in every v1 hierarchy.
    const cgroups: string[] = [];
    for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const m = /^\d+:([^:]+):(.*)$/.exec(line);
      if (!m?.[1] || m[2] === undefined) continue;
      const name = m[1].startsWith('name=') ? m[1].slice(5) : m[1];
      const dir = path.join('/sys/fs/cgroup', name, m[2]);
      try {
        cgroups.push(...fs.readdirSync(dir).filter((e) => e.startsWith('podkit-demo-')).map((e) => path.join(dir, e)));
      } catch {
        /* not mounted there */
      }
    }
    expect(cgroups).toEqual([]);
    for (const l of out) {
      const veth = /veth (veth\w+)/.exec(l)?.[1];
      if (veth) expect(fs.existsSync(path.join('/sys/class/net', veth))).toBe(false);
    }
    expect(fs.existsSync(runDir)).toBe(false);
    expect(fs.existsSync(dataDir)).toBe(false);
    expect(fs.readdirSync(tmp)).toEqual([]);
  }

  function expectKilled(r: Run): void {
    if (r.signal !== 'SIGKILL') throw new Error(`the demo was not killed (exit ${r.code}); output:\n${r.lines.join('\n')}\n${r.stderr}`);
    expect(fs.existsSync(path.join(runDir, 'demo-state.json'))).toBe(true);
  }

  function expectChecks(r: Run, checks: RegExp[]): void {
    const failed = r.lines.filter((l) => l.startsWith('FAIL'));
    expect({ failed, stderr: r.stderr }).toEqual({ failed: [], stderr: '' });
    for (const c of checks) {
      if (!r.lines.some((l) => c.test(l))) throw new Error(`no line matches ${c}; output:\n${r.lines.join('\n')}`);
    }
    expect(r.code).toBe(0);
  }

  it('runs the pod, passes every check, prints the net inode and the pod IP, and leaves nothing', async () => {
    const r = await demo();
    expectChecks(r, CHECKS);
    const net = r.lines.find((l) => l.startsWith('net: '));
    expect(net).toMatch(/^net: pause=(net:\[\d+\]) a0=\1 a1=\1$/);
    expect(r.lines).toContainEqual(expect.stringMatching(/^pod IP: 10\.88\.77\.\d+ \(range 10\.88\.77\.0\/24\)$/));
    expect(r.lines[r.lines.length - 1]).toMatch(/^PASS: \d+ checks passed, 0 failed$/);
    assertNothingLeft(r.lines);
  });

  // Kill points: each line is printed right after the objects it names were created.
  const killPoints: Array<[string, RegExp]> = [
    ['step 1, registry running', /^registry on /],
    ['step 2, snapshots mounted', /^a1: \w+ at /],
    ['step 3, pod attached', /^cni: loopback up/],
    ['step 4, containers running', /^demo-a1: pid \d+/],
    ['step 5, in the checks', /^PASS a0 touched/],
  ];
  it.each(killPoints)('cleans up after a SIGKILL at %s', async (_name, at) => {
    const killed = await demo([], at);
    expectKilled(killed);
    const clean = await demo(['--cleanup']);
    expectChecks(clean, CLEANUP);
    assertNothingLeft([...killed.lines, ...clean.lines]);
  });

  it('a full run after a SIGKILL tears the old pod down first, then runs', async () => {
    const killed = await demo([], /^demo-a0: pid \d+/);
    expectKilled(killed);
    const r = await demo();
    expect(r.lines).toContainEqual(expect.stringMatching(/^== cleanup: a previous run \(pid \d+\) left /));
    expectChecks(r, [...CLEANUP, ...CHECKS]);
    assertNothingLeft([...killed.lines, ...r.lines]);
  });
});
