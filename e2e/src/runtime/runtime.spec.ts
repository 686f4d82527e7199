/**
 * Black-box suite of an OCI runtime CLI: podrun, and Debian's runc when installed (or only the binary
 * given in $OCI_RUNTIME), driven through the same commands. Each runtime gets its own --root and
 * busybox bundle. Needs root. Where the two differ on purpose, the README's table says so.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Spec } from '@podkit/oci-spec';
import { pidfdOpen, setChildSubreaper, watchExit } from '@podkit/runtime-core/sys';
import { buildBusyboxBundle, busyboxAvailable, writeSpec } from './rootfs';

const PODRUN = path.resolve(__dirname, '../../../packages/runtime-core/bin/podrun');

function which(bin: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const f = path.join(dir, bin);
    if (fs.existsSync(f)) return f;
  }
  return undefined;
}

const runtimes: [string, string][] = process.env['OCI_RUNTIME']
  ? [[path.basename(process.env['OCI_RUNTIME']), process.env['OCI_RUNTIME']]]
  : ([['podrun', PODRUN], ['runc', which('runc')]].filter(([, b]) => b !== undefined) as [string, string][]);

const root = process.getuid?.() === 0;
const ready = root && busyboxAvailable();
if (!ready) console.warn('runtime e2e: skipped (needs root and /bin/busybox)');
if (!fs.existsSync(path.resolve(PODRUN, '../../dist/cli/podrun.js'))) console.warn('runtime e2e: podrun is not built (npm run build)');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  pid: number;
}

let seq = 0;

describe.each(runtimes)('OCI runtime CLI: %s', (name, bin) => {
  const maybe = ready ? it : it.skip;
  let work: string;
  let bundle: string;
  let stateRoot: string;
  const ids: string[] = [];

  const reapers: Promise<unknown>[] = [];

  beforeAll(() => {
    // The test is the caller's subreaper (as containerd's shim is): a container whose CLI exited is
    // re-parented here and reaped by a watcher, else its zombie would keep its cgroups busy.
    if (ready) setChildSubreaper(true);
    work = fs.mkdtempSync(path.join(os.tmpdir(), `podkit-e2e-${name}-`));
    bundle = path.join(work, 'bundle');
    stateRoot = path.join(work, 'state');
    if (ready) buildBusyboxBundle(bundle);
  });

  afterAll(async () => {
    for (const id of ids) cli(['delete', '--force', id]);
    await Promise.all(reapers);
    // jest runs every e2e file in this one process (--runInBand): stop being a subreaper, or orphans of
    // later suites (a demo killed with -9) would become zombies here that nothing reaps.
    if (ready) setChildSubreaper(false);
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** Watches a container's init (on a native thread) and reaps it once it is our orphan and exits. */
  function reap(pid: number): void {
    const fd = pidfdOpen(pid);
    reapers.push(watchExit(fd).exited.finally(() => fs.closeSync(fd)));
  }

  /** Runs the runtime with stdout/stderr in files, so a container that keeps them open does not block us. */
  function cli(args: string[]): Result {
    const out = path.join(work, `out-${++seq}`);
    const err = path.join(work, `err-${seq}`);
    const o = fs.openSync(out, 'w');
    const e = fs.openSync(err, 'w');
    try {
      const r = spawnSync(bin, ['--root', stateRoot, ...args], { cwd: bundle, stdio: ['ignore', o, e], timeout: 60_000 });
      return { code: r.status, stdout: fs.readFileSync(out, 'utf8'), stderr: fs.readFileSync(err, 'utf8'), pid: r.pid ?? 0 };
    } finally {
      fs.closeSync(o);
      fs.closeSync(e);
    }
  }

  function spec(args: string[], mutate?: (s: Spec) => void): void {
    const s: Spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
    s.process = { ...s.process, args, cwd: '/' } as Spec['process'];
    s.linux = { ...s.linux, cgroupsPath: `podkit-e2e-${process.pid}-${++seq}` };
    delete s.linux.resources?.memory;
    delete s.linux.resources?.pids;
    s.hostname = 'e2e';
    mutate?.(s);
    writeSpec(bundle, s);
  }

  function id(): string {
    const v = `e2e-${name}-${process.pid}-${++seq}`;
    ids.push(v);
    return v;
  }

  function state(cid: string): Record<string, unknown> {
    const r = cli(['state', cid]);
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout);
  }

  /** Polls `state` until the status is reached (deadline 10 s). */
  function waitStatus(cid: string, status: string): void {
    const deadline = Date.now() + 10_000;
    while (state(cid)['status'] !== status) {
      if (Date.now() > deadline) throw new Error(`${cid} did not reach ${status}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }

  maybe('run waits and exits with the container exit code, output on our stdio', () => {
    spec(['sh', '-c', 'echo out; echo err >&2; hostname; exit 3']);
    const cid = id();
    const r = cli(['run', cid]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('out\ne2e\n');
    expect(r.stderr).toContain('err\n');
    // run without --detach deletes the container.
    expect(cli(['state', cid]).code).toBe(1);
  });

  maybe('run forwards signals to the container', async () => {
    const marker = path.join(bundle, 'rootfs', 'tmp', `trap-${name}`);
    spec(['sh', '-c', `trap 'exit 42' TERM; touch /tmp/trap-${name}; while :; do sleep 1; done`]);
    const child = spawn(bin, ['--root', stateRoot, 'run', id()], { cwd: bundle, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 10_000;
    while (!fs.existsSync(marker)) {
      if (Date.now() > deadline) throw new Error('the container never became ready');
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGTERM');
    expect(await exited).toBe(42);
    fs.rmSync(marker);
  });

  maybe('seccomp: a rule makes mkdir fail with EPERM; a kill rule exits 159 (128 + SIGSYS)', () => {
    spec(['sh', '-c', 'mkdir /tmp/sc; echo rc=$?'], (s) => {
      s.linux = { ...s.linux, seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat', 'podkit_not_a_syscall'], action: 'SCMP_ACT_ERRNO' }] } };
    });
    const r = cli(['run', id()]);
    expect(r).toMatchObject({ code: 0, stdout: 'rc=1\n' });
    expect(r.stderr).toContain('Operation not permitted');
    spec(['mkdir', '/tmp/sc'], (s) => {
      s.linux = { ...s.linux, seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_KILL_PROCESS' }] } };
    });
    expect(cli(['run', id()]).code).toBe(159);
  });

  maybe('an OOM kill by the memory limit exits 137', () => {
    spec(['tail', '/dev/zero'], (s) => (s.linux = { ...s.linux, resources: { ...s.linux?.resources, memory: { limit: 16 << 20, swap: 16 << 20 } } }));
    expect(cli(['run', id()]).code).toBe(137);
  });

  maybe('create blocks the process until start; state works after the creating process exited', () => {
    const marker = path.join(bundle, 'rootfs', 'tmp', `started-${name}`);
    spec(['sh', '-c', `touch /tmp/started-${name}; exec sleep 1000`]);
    const cid = id();
    const pidFile = path.join(work, `${cid}.pid`);
    const c = cli(['create', '--pid-file', pidFile, cid]);
    expect(c).toMatchObject({ code: 0, stdout: '' });
    const st = state(cid);
    expect(Object.keys(st).sort()).toEqual(['bundle', 'created', 'id', 'ociVersion', 'owner', 'pid', 'rootfs', 'status']);
    expect(st).toMatchObject({ id: cid, status: 'created', bundle, rootfs: path.join(bundle, 'rootfs') });
    expect(Number(fs.readFileSync(pidFile, 'utf8'))).toBe(st['pid']);
    reap(st['pid'] as number);
    expect(fs.existsSync(marker)).toBe(false);
    // The creating CLI is gone and the container process is not its child any more.
    const ppid = Number(fs.readFileSync(`/proc/${st['pid']}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
    expect(ppid).not.toBe(c.pid);
    expect(fs.existsSync(`/proc/${c.pid}/stat`) && fs.readFileSync(`/proc/${c.pid}/stat`, 'utf8').includes('(podrun)')).toBe(false);
    expect(cli(['start', cid]).code).toBe(0);
    waitStatus(cid, 'running');
    const deadline = Date.now() + 10_000;
    while (!fs.existsSync(marker) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    expect(fs.existsSync(marker)).toBe(true);
    fs.rmSync(marker);
    expect(cli(['start', cid]).code).toBe(1);
    const running = cli(['delete', cid]);
    expect(running.code).toBe(1);
    expect(cli(['kill', cid, 'KILL']).code).toBe(0);
    waitStatus(cid, 'stopped');
    expect(state(cid)['pid']).toBe(0);
    expect(cli(['kill', cid, '9']).code).toBe(1);
    expect(cli(['delete', cid]).code).toBe(0);
    expect(cli(['state', cid]).code).toBe(1);
  });

  maybe('kill by number, delete --force of a running container, list in JSON', () => {
    const a = id();
    const b = id();
    // Each container gets its own config (its own cgroup).
    spec(['sleep', '1000']);
    expect(cli(['run', '--detach', a]).code).toBe(0);
    spec(['sleep', '1000']);
    expect(cli(['run', '-d', b]).code).toBe(0);
    const listed = JSON.parse(cli(['list', '--format', 'json']).stdout) as Record<string, unknown>[];
    for (const c of listed) reap(c['pid'] as number);
    expect(listed.map((c) => c['id']).sort()).toEqual([a, b].sort());
    expect(listed.every((c) => c['status'] === 'running' && c['owner'] === 'root')).toBe(true);
    expect(cli(['kill', a, '9']).code).toBe(0);
    waitStatus(a, 'stopped');
    expect(cli(['delete', a])).toMatchObject({ code: 0, stderr: '' });
    expect(cli(['delete', '--force', b]).code).toBe(0);
    expect(cli(['list', '-q']).stdout).toBe('');
    expect(cli(['list', '--format', 'json']).stdout.trim()).toBe('null');
  });

  maybe('exec joins the container and returns the exit code; --detach writes the pid file', () => {
    spec(['sleep', '1000']);
    const cid = id();
    expect(cli(['run', '-d', cid]).code).toBe(0);
    const init = state(cid)['pid'] as number;
    reap(init);
    const r = cli(['exec', cid, 'sh', '-c', 'hostname; readlink /proc/self/ns/net; exit 5']);
    expect(r.code).toBe(5);
    expect(r.stdout).toBe(`e2e\n${fs.readlinkSync(`/proc/${init}/ns/net`)}\n`);
    const processFile = path.join(work, 'process.json');
    fs.writeFileSync(processFile, JSON.stringify({ args: ['sh', '-c', 'id -u; pwd; echo $X'], cwd: '/tmp', env: ['PATH=/bin', 'X=y'], user: { uid: 1000, gid: 1000 } }));
    expect(cli(['exec', '--process', processFile, cid])).toMatchObject({ code: 0, stdout: '1000\n/tmp\ny\n' });
    const pidFile = path.join(work, 'exec.pid');
    expect(cli(['exec', '--detach', '--pid-file', pidFile, cid, 'sleep', '1000']).code).toBe(0);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    reap(pid);
    expect(fs.readlinkSync(`/proc/${pid}/ns/pid`)).toBe(fs.readlinkSync(`/proc/${init}/ns/pid`));
    expect(cli(['exec', cid, 'no-such-binary']).code).not.toBe(0);
    expect(cli(['delete', '-f', cid]).code).toBe(0);
  });

  maybe('the shim verbs: state created (RFC 3339 nanoseconds), ps --format json, pause/resume, update, events --stats, kill --all', () => {
    spec(['sh', '-c', 'sleep 1000 & sleep 1000 & wait']);
    const cid = id();
    expect(cli(['run', '-d', cid]).code).toBe(0);
    const st = state(cid);
    reap(st['pid'] as number);
    expect(st['created']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,9}Z$/);
    const deadline = Date.now() + 10_000;
    let pids: number[] = [];
    while ((pids = JSON.parse(cli(['ps', '--format', 'json', cid]).stdout) as number[]).length < 3 && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    expect(pids).toHaveLength(3);
    expect(pids).toContain(st['pid']);
    expect(cli(['pause', cid]).code).toBe(0);
    expect(state(cid)['status']).toBe('paused');
    expect(cli(['resume', cid]).code).toBe(0);
    expect(state(cid)['status']).toBe('running');
    const upd = spawnSync(bin, ['--root', stateRoot, 'update', '--resources', '-', cid], { input: JSON.stringify({ pids: { limit: 40 } }), encoding: 'utf8' });
    expect(upd.status).toBe(0);
    expect(cli(['update', '--pids-limit', '30', cid]).code).toBe(0);
    const ev = cli(['events', '--stats', cid]);
    expect(ev.code).toBe(0);
    const event = JSON.parse(ev.stdout) as { type: string; id: string; data: { pids: { current: number; limit: number }; memory: { usage: { usage: number } } } };
    expect(event).toMatchObject({ type: 'stats', id: cid, data: { pids: { current: 3, limit: 30 } } });
    expect(event.data.memory.usage.usage).toBeGreaterThan(0);
    expect(cli(['kill', '--all', cid, 'KILL']).code).toBe(0);
    waitStatus(cid, 'stopped');
    expect(cli(['delete', cid]).code).toBe(0);
  });

  maybe('--preserve-fds passes fds 3.. to the container (run and exec)', () => {
    const extra = path.join(work, `extra-${name}`);
    fs.writeFileSync(extra, 'from fd 3\n');
    const withFd3 = (args: string[]) => {
      const fd = fs.openSync(extra, 'r');
      const out = path.join(work, `out-${++seq}`);
      const o = fs.openSync(out, 'w');
      try {
        const r = spawnSync(bin, ['--root', stateRoot, ...args], { cwd: bundle, stdio: ['ignore', o, 'pipe', fd], timeout: 60_000, encoding: 'utf8' });
        return { code: r.status, stdout: fs.readFileSync(out, 'utf8'), stderr: r.stderr };
      } finally {
        fs.closeSync(fd);
        fs.closeSync(o);
      }
    };
    spec(['sh', '-c', 'cat <&3; ls /proc/self/fd']);
    const r = withFd3(['run', '--preserve-fds', '1', id()]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('from fd 3');
    // Only 0-3 (and ls's own directory fd) are open: nothing else of the runtime leaks in.
    expect(r.stdout.split('\n').slice(1).filter(Boolean).map(Number).filter((n) => n > 3).length).toBeLessThanOrEqual(1);
    spec(['sleep', '1000']);
    const cid = id();
    expect(cli(['run', '-d', cid]).code).toBe(0);
    reap(state(cid)['pid'] as number);
    expect(withFd3(['exec', '--preserve-fds', '1', cid, 'sh', '-c', 'cat <&3'])).toMatchObject({ code: 0, stdout: 'from fd 3\n' });
    expect(cli(['delete', '-f', cid]).code).toBe(0);
  });

  maybe('features prints the runtime-spec features document; checkpoint is refused', () => {
    const f = cli(['features']);
    expect(f.code).toBe(0);
    const doc = JSON.parse(f.stdout) as { ociVersionMin: string; linux: { namespaces: string[]; cgroup: { v1: boolean } } };
    expect(doc.ociVersionMin).toMatch(/^1\./);
    expect(doc.linux.namespaces).toEqual(expect.arrayContaining(['pid', 'network', 'mount', 'ipc', 'uts', 'cgroup']));
    expect(doc.linux.cgroup.v1).toBe(true);
    if (name === 'podrun') expect(cli(['checkpoint', 'x']).stderr).toMatch(/not supported/);
  });

  maybe('a bad config.json is rejected before anything is created', () => {
    spec(['true'], (s) => {
      (s.process as unknown as Record<string, unknown>)['cwd'] = 42;
    });
    const cid = id();
    const r = cli(['create', cid]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cwd/);
    expect(cli(['state', cid]).code).toBe(1);
  });

  maybe('spec writes a default config.json', () => {
    const dir = path.join(work, 'specdir');
    fs.mkdirSync(dir);
    const r = spawnSync(bin, ['spec'], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const s = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(s.process.args).toEqual(['sh']);
    expect(s.root).toEqual({ path: 'rootfs', readonly: true });
  });
});
