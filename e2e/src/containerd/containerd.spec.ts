/**
 * Interop: Debian's containerd (1.6, containerd-shim-runc-v2 + go-runc) drives `podrun` as its runc.
 * The test starts its own containerd as a child (temporary root, state, sockets and config; the
 * overlayfs snapshotter inside the temporary root), imports a busybox image built here as an OCI
 * archive, and runs containers with `ctr ... --runc-binary <podrun> --runc-root <tmp>` in a cgroup
 * beneath the test's own. Everything (tasks, containerd by its PID, shims of this containerd by their
 * PID, mounts under the temporary root, cgroups) is torn down in afterAll, also on failure.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const PODRUN = path.resolve(__dirname, '../../../packages/runtime-core/bin/podrun');
/** The runtime binary the shim runs: podrun, or another one to compare (CTR_RUNC_BINARY=/usr/sbin/runc). */
const RUNTIME = process.env['CTR_RUNC_BINARY'] ?? PODRUN;
const BUILT = fs.existsSync(path.resolve(PODRUN, '../../dist/cli/podrun.js'));

function which(bin: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const f = path.join(dir, bin);
    if (fs.existsSync(f)) return f;
  }
  return undefined;
}

const CONTAINERD = which('containerd');
const CTR = which('ctr');
const root = process.getuid?.() === 0;
const ready = root && CONTAINERD !== undefined && CTR !== undefined && BUILT && fs.existsSync('/bin/busybox');
if (!ready) console.warn(`containerd interop e2e: skipped (${!root ? 'needs root' : !BUILT ? 'podrun is not built (npm run build)' : 'needs containerd, ctr and /bin/busybox'})`);

/** A cgroup (absolute, as `ctr run --cgroup` takes it) beneath this process's own cgroup in every v1 hierarchy. */
function cgroupParent(): string {
  const own = fs
    .readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .map((l) => /^\d+:([^:]*):(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && m[1] !== '')
    .map((m) => m[2] as string);
  // The deepest own path; every other hierarchy's own path must be a prefix of it.
  const deepest = own.reduce((a, b) => (b.length > a.length ? b : a), '/');
  for (const p of own) {
    if (!(deepest === p || deepest.startsWith(p === '/' ? '/' : `${p}/`))) throw new Error(`cgroups: own paths ${own.join(', ')} have no common descendant`);
  }
  return deepest;
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Waits for `fn` to be true, polling (no fixed sleeps), until the deadline. */
async function until(what: string, fn: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const describeIf = ready ? describe : describe.skip;

describeIf('containerd (containerd-shim-runc-v2) drives podrun', () => {
  let work: string;
  let sock: string;
  let runcRoot: string;
  let containerd: ChildProcess | undefined;
  let containerdExited: Promise<void> = Promise.resolve();
  const cgroupBase = `${ready ? cgroupParent() : '/'}`.replace(/\/$/, '');
  const prefix = `podkit-ctd-${process.pid}`;
  const containers: string[] = [];
  const IMAGE = 'podkit.test/busybox:latest';

  const ctr = (args: string[], opts: { input?: string; timeoutMs?: number } = {}): Ran => {
    const r = spawnSync(CTR as string, ['-a', sock, ...args], { encoding: 'utf8', input: opts.input ?? '', timeout: opts.timeoutMs ?? 60_000 });
    return { code: r.status, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
  };
  const runFlags = (id: string) => ['--runc-binary', RUNTIME, '--runc-root', runcRoot, '--cgroup', `${cgroupBase}/${prefix}-${id}`];
  const taskStatus = (id: string): string | undefined => {
    const line = ctr(['task', 'ls']).stdout.split('\n').find((l) => l.split(/\s+/)[0] === id);
    return line?.trim().split(/\s+/)[2];
  };

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-e2e-containerd-'));
    sock = path.join(work, 'containerd.sock');
    runcRoot = path.join(work, 'podrun-root');
    const config = [
      'version = 2',
      `root = ${JSON.stringify(path.join(work, 'root'))}`,
      `state = ${JSON.stringify(path.join(work, 'state'))}`,
      // Only what ctr needs: no CRI, no other snapshotters; nothing outside the temporary folder.
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]',
      '[grpc]',
      `  address = ${JSON.stringify(sock)}`,
      '[ttrpc]',
      `  address = ${JSON.stringify(`${sock}.ttrpc`)}`,
      '[debug]',
      '  level = "debug"',
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = ${JSON.stringify(path.join(work, 'opt'))}`,
      '[plugins."io.containerd.snapshotter.v1.overlayfs"]',
      `  root_path = ${JSON.stringify(path.join(work, 'root', 'overlayfs'))}`,
      '',
    ].join('\n');
    fs.writeFileSync(path.join(work, 'config.toml'), config);
    const log = fs.openSync(path.join(work, 'containerd.log'), 'w');
    containerd = spawn(CONTAINERD as string, ['--config', path.join(work, 'config.toml')], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    containerdExited = new Promise((r) => containerd?.once('exit', () => r()));
    await until('containerd to serve', () => fs.existsSync(sock) && ctr(['version']).code === 0);

    // The busybox image: tools' base layer, as an OCI archive (ctr imports tars of image layouts).
    const { baseLayerEntries } = require('@podkit/tools/images/busybox') as typeof import('@podkit/tools/images/busybox');
    const { OciLayout, tarOf } = require('@podkit/tools/images/layout') as typeof import('@podkit/tools/images/layout');
    const entries = baseLayerEntries();
    const bb = entries.find((e) => e.name === 'bin/busybox');
    // The hard links to busybox carry busybox's mode: an extractor applies a hardlink header's mode to
    // the shared inode (containerd does), and tools' entries leave it at the default 0644.
    const fixed = entries.map((e) => (e.type === 'hardlink' && e.linkname === 'bin/busybox' ? { ...e, mode: bb?.mode, mtime: bb?.mtime } : e));
    const layout = new OciLayout(path.join(work, 'layout'));
    const img = layout.addImage([layout.addLayer(tarOf(fixed), true)], { os: 'linux', architecture: 'amd64' }, { Cmd: ['/bin/sh'], WorkingDir: '/', Env: ['PATH=/bin'] });
    layout.tag(img.manifest, 'latest');
    execFileSync('tar', ['-C', path.join(work, 'layout'), '-cf', path.join(work, 'busybox.tar'), '.']);
    const imported = ctr(['images', 'import', '--base-name', 'podkit.test/busybox', path.join(work, 'busybox.tar')]);
    expect(imported).toMatchObject({ code: 0 });
  });

  afterAll(async () => {
    if (!work) return;
    try {
      if (containerd?.exitCode === null) {
        for (const id of containers) {
          ctr(['task', 'kill', '-s', 'SIGKILL', id]);
          ctr(['task', 'delete', '--force', id]);
          ctr(['containers', 'rm', id]);
        }
      }
    } finally {
      // containerd by its PID; then the shims it started (identified by our socket on their command line).
      if (containerd?.pid !== undefined && containerd.exitCode === null) {
        containerd.kill('SIGTERM');
        const timer = setTimeout(() => containerd?.kill('SIGKILL'), 10_000);
        await containerdExited;
        clearTimeout(timer);
      }
      for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
        try {
          const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
          if (cmd[0]?.endsWith('containerd-shim-runc-v2') && cmd.includes(sock)) process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      // Mounts left beneath the temporary folder (rootfs of killed tasks, snapshots), deepest first.
      const mounts = fs
        .readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .map((l) => l.split(' ')[4])
        .filter((m): m is string => m !== undefined && m.startsWith(`${work}/`))
        .sort((a, b) => b.length - a.length);
      for (const m of mounts) spawnSync('umount', ['-l', m]);
      // Container cgroups podrun did not get to remove.
      for (const h of fs.readdirSync('/sys/fs/cgroup')) {
        const base = path.join('/sys/fs/cgroup', h, cgroupBase);
        let names: string[] = [];
        try {
          names = fs.readdirSync(base).filter((n) => n.startsWith(prefix));
        } catch {
          continue;
        }
        for (const n of names) {
          try {
            fs.rmdirSync(path.join(base, n));
          } catch {
            /* still busy: reported by the tests that left it */
          }
        }
      }
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it('ctr run --rm: the output and the exit code of the container come back through the shim', () => {
    containers.push('rm1');
    const r = ctr(['run', '--rm', ...runFlags('rm1'), IMAGE, 'rm1', 'sh', '-c', 'echo hello from podrun; echo to-stderr >&2; exit 3']);
    expect(r.stdout).toBe('hello from podrun\n');
    expect(r.stderr).toContain('to-stderr');
    expect(r.code).toBe(3);
    // --rm removed everything: the task, the container, podrun's state.
    expect(ctr(['containers', 'ls', '-q']).stdout.split('\n')).not.toContain('rm1');
    expect(fs.readdirSync(path.join(runcRoot, 'default'))).not.toContain('rm1');
  });

  it('a failing create reaches ctr with podrun\'s error text', () => {
    containers.push('bad1');
    const r = ctr(['run', '--rm', ...runFlags('bad1'), IMAGE, 'bad1', 'no-such-program']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no-such-program/);
    ctr(['containers', 'rm', 'bad1']);
  });

  it('ctr run -d, task exec, ps, pause/resume, metrics, kill and delete', async () => {
    const id = 'd1';
    containers.push(id);
    expect(ctr(['run', '-d', ...runFlags(id), IMAGE, id, 'sleep', '1000'])).toMatchObject({ code: 0 });
    expect(taskStatus(id)).toBe('RUNNING');
    const initPid = Number(ctr(['task', 'ls']).stdout.split('\n').find((l) => l.startsWith(`${id} `))?.trim().split(/\s+/)[1]);
    expect(initPid).toBeGreaterThan(1);
    // The container's init is in the cgroup we asked for.
    expect(fs.readFileSync(`/proc/${initPid}/cgroup`, 'utf8')).toContain(`${cgroupBase}/${prefix}-${id}`);

    const ex = ctr(['task', 'exec', '--exec-id', 'e1', id, 'sh', '-c', 'echo exec says hi; cat /proc/1/comm; exit 4']);
    expect(ex).toMatchObject({ code: 4, stdout: 'exec says hi\nsleep\n' });

    const ps = ctr(['task', 'ps', id]);
    expect(ps.code).toBe(0);
    expect(ps.stdout).toMatch(new RegExp(`^${initPid}\\s`, 'm'));

    expect(ctr(['task', 'pause', id]).code).toBe(0);
    expect(taskStatus(id)).toBe('PAUSED');
    expect(fs.readFileSync(`/proc/${initPid}/status`, 'utf8')).toMatch(/^State:\s+[DS]/m);
    expect(ctr(['task', 'resume', id]).code).toBe(0);
    expect(taskStatus(id)).toBe('RUNNING');

    const metrics = ctr(['task', 'metrics', id]);
    expect(metrics.code).toBe(0);
    expect(metrics.stdout).toMatch(/memory\.usage_in_bytes\s+\d+/);
    expect(metrics.stdout).toMatch(/pids\.current\s+1/);

    expect(ctr(['task', 'kill', '-s', 'SIGKILL', id]).code).toBe(0);
    await until('the task to stop', () => taskStatus(id) === 'STOPPED');
    expect(ctr(['task', 'delete', id]).code).toBe(0);
    expect(ctr(['containers', 'rm', id]).code).toBe(0);
    expect(fs.readdirSync(path.join(runcRoot, 'default'))).not.toContain(id);
    // podrun removed the container's cgroups.
    expect(fs.existsSync(path.join('/sys/fs/cgroup/memory', cgroupBase, `${prefix}-${id}`))).toBe(false);
  });

  /** Runs ctr under `script`, so that ctr's own stdin is a terminal (ctr -t needs one). */
  const ctrTty = (args: string[]): Ran => {
    const cmd = [CTR as string, '-a', sock, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', input: '', timeout: 60_000 });
    return { code: r.status, stdout: (r.stdout ?? '').replace(/\r+\n/g, '\n'), stderr: r.stderr ?? '' };
  };
  const haveScript = which('script') !== undefined;
  const itTty = haveScript ? it : it.skip;

  itTty('ctr run -t: the container gets a pty from podrun over the console socket', () => {
    containers.push('t1');
    const r = ctrTty(['run', '--rm', '-t', ...runFlags('t1'), IMAGE, 't1', 'sh', '-c', 'tty; ls -l /proc/self/fd/1; exit 5']);
    // (Through two ptys, ctr's and script's, lines end in \r\r\n; runc's output is the same.)
    expect(r.stdout).toMatch(/^(\^@)?\/dev\/pts\/\d+$/m);
    expect(r.stdout).toMatch(/\/proc\/self\/fd\/1 -> \/dev\/pts\/\d+$/m);
    expect(r.code).toBe(5);
  });

  itTty('ctr task exec -t: an exec gets its own pty', async () => {
    const id = 't2';
    containers.push(id);
    expect(ctr(['run', '-d', ...runFlags(id), IMAGE, id, 'sleep', '1000'])).toMatchObject({ code: 0 });
    const r = ctrTty(['task', 'exec', '-t', '--exec-id', 'x1', id, 'sh', '-c', 'tty; exit 6']);
    expect(r.stdout).toMatch(/^(\^@)?\/dev\/pts\/\d+$/m);
    expect(r.code).toBe(6);
    expect(ctr(['task', 'kill', '-s', 'SIGKILL', id]).code).toBe(0);
    await until('the task to stop', () => taskStatus(id) === 'STOPPED');
    expect(ctr(['task', 'delete', id]).code).toBe(0);
    expect(ctr(['containers', 'rm', id]).code).toBe(0);
  });

  it('ctr task kill --all signals every process of the container', async () => {
    const id = 'k1';
    containers.push(id);
    expect(ctr(['run', '-d', ...runFlags(id), IMAGE, id, 'sh', '-c', 'sleep 1000 & sleep 1000 & wait'])).toMatchObject({ code: 0 });
    await until('three processes', () => ctr(['task', 'ps', id]).stdout.trim().split('\n').length === 4);
    expect(ctr(['task', 'kill', '--all', '-s', 'SIGKILL', id]).code).toBe(0);
    await until('the task to stop', () => taskStatus(id) === 'STOPPED');
    expect(ctr(['task', 'delete', id]).code).toBe(0);
    expect(ctr(['containers', 'rm', id]).code).toBe(0);
  });
});
