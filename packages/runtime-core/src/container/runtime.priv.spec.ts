/**
 * The runtime library against the real kernel, with a busybox-static rootfs: each feature is checked
 * from inside the container. Needs root (namespaces, mounts, cgroups).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isFailedPrecondition, isInvalidArgument, isNotFound } from '@podkit/errdefs';
import { hostBackend } from '../cgroups/backend';
import { hugetlbAvailable } from '../cgroups/v2';
import { helperPath } from '../sys/native';
import { TestEnv } from '../test-support/run';

const root = process.getuid?.() === 0;
const describeRoot = root ? describe : describe.skip;
if (!root) console.warn('runtime.priv.spec: skipped, needs root (namespaces, mounts, cgroups)');

/** Polls until `fn` holds (no fixed sleeps), for up to 10 s. */
async function waitFor(fn: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function nsInode(pid: number | 'self', type: string): string {
  return fs.readlinkSync(`/proc/${pid}/ns/${type}`);
}

describeRoot('container runtime (privileged)', () => {
  let env: TestEnv;
  beforeAll(() => {
    env = new TestEnv();
  });
  afterAll(async () => {
    await env.cleanup();
  });

  it('runs a process to completion and reports its exit code', async () => {
    const r = await env.sh('echo hello; echo oops >&2; exit 3');
    expect(r).toMatchObject({ exitCode: 3, signal: null, stdout: 'hello\n', stderr: 'oops\n' });
  });

  it('creates new namespaces of every type asked for', async () => {
    const types = ['pid', 'net', 'ipc', 'uts', 'mnt', 'cgroup'];
    const r = await env.sh(types.map((t) => `readlink /proc/self/ns/${t}`).join(';'), (s) => {
      s.linux!.namespaces!.push({ type: 'cgroup' });
    });
    expect(r.exitCode).toBe(0);
    const inside = r.stdout.trim().split('\n');
    types.forEach((t, i) => {
      expect(inside[i]).toMatch(new RegExp(`^${t}:\\[\\d+\\]$`));
      expect(inside[i]).not.toBe(nsInode('self', t));
    });
  });

  it('is PID 1 of its PID namespace, with the hostname, env, cwd and user asked for', async () => {
    const r = await env.sh('echo $$; hostname; cat /proc/sys/kernel/domainname; echo $FOO; pwd; id -u; id -g; id -G; umask', (s) => {
      s.hostname = 'podkit-test';
      s.domainname = 'example.org';
      s.process!.env!.push('FOO=bar baz');
      s.process!.cwd = '/tmp';
      s.process!.user = { uid: 1000, gid: 1001, additionalGids: [2000, 2001], umask: 0o027 };
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['1', 'podkit-test', 'example.org', 'bar baz', '/tmp', '1000', '1001', '1001 2000 2001', '0027', '']);
  });

  it('sets capabilities (5 sets), NoNewPrivs, rlimits and oom_score_adj', async () => {
    const r = await env.sh('grep -E "^(Cap|NoNewPrivs)" /proc/self/status; ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj', (s) => {
      s.process!.capabilities = {
        bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
        effective: ['CAP_CHOWN', 'CAP_KILL'],
        permitted: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
        inheritable: ['CAP_KILL'],
        ambient: ['CAP_KILL'],
      };
      s.process!.noNewPrivileges = true;
      s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 123, hard: 456 }];
      s.process!.oomScoreAdj = 500;
    });
    expect(r.stderr).toBe('');
    const status = Object.fromEntries(r.stdout.split('\n').filter((l) => l.includes(':')).map((l) => l.split(/:\s+/)));
    // CHOWN=0, KILL=5, NET_BIND_SERVICE=10. sh runs as root, so exec recomputes effective = permitted.
    expect(status).toEqual({
      CapInh: '0000000000000020',
      CapPrm: '0000000000000421',
      CapEff: '0000000000000421',
      CapBnd: '0000000000000421',
      CapAmb: '0000000000000020',
      NoNewPrivs: '1',
    });
    expect(r.stdout.split('\n').slice(-4)).toEqual(['123', '456', '500', '']);
  });

  it('keeps inheritable empty unless asked and skips an ambient capability that is not inheritable', async () => {
    const created = await env.create(
      env.spec(['sh', '-c', 'grep -E "^Cap(Inh|Amb)" /proc/self/status'], (s) => {
        s.process!.capabilities = { bounding: ['CAP_KILL'], permitted: ['CAP_KILL'], effective: ['CAP_KILL'], ambient: ['CAP_KILL'] };
      }),
    );
    await env.runtime.start(created.id);
    await env.runtime.wait(created.id);
    await env.runtime.delete(created.id);
    expect(created.output().stdout).toBe('CapInh:\t0000000000000000\nCapAmb:\t0000000000000000\n');
  });

  it('mounts proc, sysfs, tmpfs, devpts, mqueue, a cgroup tmpfs and read-only binds, inside the rootfs', async () => {
    const host = fs.mkdtempSync(path.join(env.bundle.dir, 'share-'));
    fs.writeFileSync(path.join(host, 'hello'), 'from host\n');
    const r = await env.sh('cat /proc/mounts; cat /data/hello; touch /data/x 2>/dev/null && echo writable || echo readonly; ls /sys/fs/cgroup', (s) => {
      s.mounts!.push({ destination: '/data', type: 'bind', source: host, options: ['rbind', 'ro'] });
    });
    expect(r.exitCode).toBe(0);
    const mounts = r.stdout.split('\n').filter((l) => l.split(' ').length === 6).map((l) => l.split(' '));
    const at = (p: string) => mounts.find((m) => m[1] === p);
    expect(at('/proc')?.[2]).toBe('proc');
    expect(at('/dev')?.[2]).toBe('tmpfs');
    expect(at('/dev/pts')?.[2]).toBe('devpts');
    expect(at('/dev/shm')?.[2]).toBe('tmpfs');
    expect(at('/dev/mqueue')?.[2]).toBe('mqueue');
    expect(at('/sys')?.[2]).toBe('sysfs');
    expect(at('/sys')?.[3]).toMatch(/^ro,/);
    expect(at('/sys/fs/cgroup')?.[2]).toBe('tmpfs');
    expect(at('/sys/fs/cgroup/memory')?.[2]).toBe('cgroup');
    expect(at('/sys/fs/cgroup/memory')?.[3]).toMatch(/^ro,/);
    expect(at('/data')?.[3]).toMatch(/^ro,/);
    expect(r.stdout).toContain('from host\nreadonly\n');
    expect(r.stdout).toMatch(/\nmemory\n/);
    // Nothing leaked to the host's mount table.
    expect(fs.readFileSync('/proc/self/mounts', 'utf8')).not.toContain(env.bundle.rootfs);
  });

  it('resolves mount targets inside the rootfs: a symlink cannot redirect a mount to the host', async () => {
    const escape = path.join(env.bundle.dir, 'escape-target');
    fs.mkdirSync(escape);
    fs.symlinkSync(escape, path.join(env.bundle.rootfs, 'evil'));
    try {
      const r = await env.sh('grep " /evil " /proc/mounts | cut -d" " -f3', (s) => {
        s.mounts!.push({ destination: '/evil', type: 'tmpfs', source: 'tmpfs' });
      });
      // The symlink /evil -> <host path> is resolved inside the root: the tmpfs lands in the rootfs.
      expect(r.exitCode).toBe(0);
      expect(fs.existsSync(path.join(env.bundle.rootfs, escape))).toBe(true);
    } finally {
      fs.rmSync(path.join(env.bundle.rootfs, 'evil'));
      fs.rmSync(path.join(env.bundle.rootfs, 'tmp', path.basename(env.bundle.dir)), { recursive: true, force: true });
    }
  });

  it('creates default devices, /dev symlinks and linux.devices', async () => {
    const r = await env.sh('for d in null zero full random urandom tty mydev; do stat -c "%n %F %t:%T %a" /dev/$d; done; readlink /dev/fd; readlink /dev/ptmx', (s) => {
      s.linux!.devices = [{ path: '/dev/mydev', type: 'c', major: 1, minor: 3, fileMode: 0o640 }];
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual([
      '/dev/null character special file 1:3 666',
      '/dev/zero character special file 1:5 666',
      '/dev/full character special file 1:7 666',
      '/dev/random character special file 1:8 666',
      '/dev/urandom character special file 1:9 666',
      '/dev/tty character special file 5:0 666',
      '/dev/mydev character special file 1:3 640',
      '/proc/self/fd',
      'pts/ptmx',
      '',
    ]);
  });

  it('masks paths, makes paths and the root read-only, applies sysctls first', async () => {
    const r = await env.sh(
      'cat /proc/keys | wc -c; echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo rw || echo ro; touch /newfile 2>/dev/null && echo rw || echo ro; cat /proc/sys/net/ipv4/ip_forward',
      (s) => {
        s.root!.readonly = true;
        s.linux!.sysctl = { 'net.ipv4.ip_forward': '1' };
      },
    );
    expect(r.stdout).toBe('0\nro\nro\n1\n');
  });

  it('applies rootfsPropagation to the container root (default: a slave of the host)', async () => {
    const rootLine = 'grep -E "^[0-9]+ [0-9]+ [0-9:]+ [^ ]+ / " /proc/self/mountinfo';
    const dflt = await env.sh(rootLine);
    const shared = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === '/')?.includes('shared:');
    if (shared) expect(dflt.stdout).toMatch(/ master:\d+/);
    expect(dflt.stdout).not.toMatch(/ shared:/);
    const priv = await env.sh(rootLine, (s) => (s.linux!.rootfsPropagation = 'private'));
    expect(priv.stdout).not.toMatch(/ (shared|master):/);
  });

  it('supports --no-pivot (MS_MOVE + chroot)', async () => {
    env.bundle.write(env.spec(['sh', '-c', 'ls /; cat /proc/self/mountinfo | wc -l']));
    const id = env.nextId();
    await env.runtime.create(id, { bundle: env.bundle.dir, noPivot: true, stdio: { stdout: fs.openSync('/dev/null', 'w') } });
    await env.runtime.start(id);
    expect(await env.runtime.wait(id)).toMatchObject({ exitCode: 0 });
    await env.runtime.delete(id);
  });

  it('rejects a bad config before creating anything, naming the field', async () => {
    const id = env.nextId();
    env.bundle.write({ ...env.spec(['true']), hostname: 'x', linux: { namespaces: [{ type: 'mount' }], maskedPaths: [] } } as never);
    const err = await env.runtime.create(id, { bundle: env.bundle.dir }).catch((e: unknown) => e);
    expect(isInvalidArgument(err)).toBe(true);
    expect((err as Error).message).toContain('/hostname');
    expect(fs.existsSync(path.join(env.root, id))).toBe(false);
    env.bundle.write({ ...env.spec(['true']), process: { ...env.spec(['true']).process!, terminal: true } });
    const err2 = await env.runtime.create(id, { bundle: env.bundle.dir }).catch((e: unknown) => e);
    expect((err2 as Error).message).toContain('/process/terminal');
  });

  it('reports a failing step with its phase, syscall and errno, and cleans up', async () => {
    const id = env.nextId();
    env.bundle.write(env.spec(['true'], (s) => (s.process!.cwd = '/does/not/exist')));
    const err = await env.runtime.create(id, { bundle: env.bundle.dir }).catch((e: unknown) => e);
    expect(isNotFound(err)).toBe(true);
    expect((err as Error).message).toMatch(/podkit-init \(cwd\): chdir: ENOENT cwd \/does\/not\/exist/);
    expect(fs.existsSync(path.join(env.root, id))).toBe(false);
    env.bundle.write(env.spec(['no-such-binary']));
    const err2 = await env.runtime.create(id, { bundle: env.bundle.dir }).catch((e: unknown) => e);
    expect((err2 as Error).message).toMatch(/executable file "no-such-binary" not found/);
  });

  it('splits create and start on the exec FIFO', async () => {
    const c = await env.create(env.spec(['touch', '/tmp/started']));
    const st = env.runtime.state(c.id);
    expect(st.status).toBe('created');
    expect(st.pid).toBeGreaterThan(0);
    // The init is alive, blocked on the FIFO, and has not run the program yet.
    expect(fs.existsSync(path.join(env.bundle.rootfs, 'tmp', 'started'))).toBe(false);
    expect(fs.readFileSync(`/proc/${st.pid}/cmdline`, 'utf8')).toBe('podkit-init\0');
    await env.runtime.start(c.id);
    await expect(env.runtime.start(c.id)).rejects.toThrow(/cannot start a container that is (running|stopped)/);
    expect(await env.runtime.wait(c.id)).toMatchObject({ exitCode: 0 });
    expect(env.runtime.state(c.id)).toMatchObject({ status: 'stopped', pid: 0 });
    expect(fs.existsSync(path.join(env.bundle.rootfs, 'tmp', 'started'))).toBe(true);
    await env.runtime.delete(c.id);
    fs.rmSync(path.join(env.bundle.rootfs, 'tmp', 'started'));
    expect(() => env.runtime.state(c.id)).toThrow(/does not exist/);
  });

  it('kills by signal name or number; delete refuses a running container without force', async () => {
    const c = await env.create(env.spec(['sleep', '1000']));
    await env.runtime.start(c.id);
    expect(env.runtime.state(c.id).status).toBe('running');
    const err = await env.runtime.delete(c.id).catch((e: unknown) => e);
    expect(isFailedPrecondition(err)).toBe(true);
    await env.runtime.kill(c.id, 'KILL');
    expect(await env.runtime.wait(c.id)).toMatchObject({ exitCode: null, signal: 9 });
    await expect(env.runtime.kill(c.id, 9)).rejects.toThrow(/not running/);
    await env.runtime.delete(c.id);

    const d = await env.create(env.spec(['sleep', '1000']));
    await env.runtime.start(d.id);
    await env.runtime.delete(d.id, { force: true });
    expect(env.runtime.list().map((x) => x.id)).not.toContain(d.id);
  });

  it('deletes a created container (never started) without force', async () => {
    const c = await env.create(env.spec(['true']));
    await env.runtime.delete(c.id);
    expect(await env.runtime.list().find((x) => x.id === c.id)).toBeUndefined();
  });

  it('execs a process in all the container namespaces and cgroups', async () => {
    const c = await env.create(env.spec(['sleep', '1000'], (s) => (s.hostname = 'exec-host')));
    await env.runtime.start(c.id);
    const pid = env.runtime.state(c.id).pid;
    const out = path.join(env.bundle.dir, 'exec.out');
    const fd = fs.openSync(out, 'w');
    const h = await env.runtime.exec(c.id, {
      args: ['sh', '-c', 'hostname; for t in pid net ipc uts mnt; do readlink /proc/self/ns/$t; done; cat /proc/self/cgroup | grep memory; exit 7'],
      stdio: { stdout: fd },
    });
    fs.closeSync(fd);
    expect(await h.wait()).toMatchObject({ exitCode: 7 });
    const lines = fs.readFileSync(out, 'utf8').split('\n');
    expect(lines[0]).toBe('exec-host');
    expect(lines.slice(1, 6)).toEqual(['pid', 'net', 'ipc', 'uts', 'mnt'].map((t) => nsInode(pid, t)));
    const hostCg = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.includes(':memory:'));
    expect(lines[6]).toBe(hostCg);
    await env.runtime.delete(c.id, { force: true });
  });

  it('joins another container namespaces by path', async () => {
    const a = await env.create(env.spec(['sleep', '1000'], (s) => (s.hostname = 'pod-a')));
    await env.runtime.start(a.id);
    const apid = env.runtime.state(a.id).pid;
    const r = await env.sh('hostname; readlink /proc/self/ns/net; readlink /proc/self/ns/uts; readlink /proc/self/ns/ipc', (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((n) =>
        n.type === 'network' || n.type === 'uts' || n.type === 'ipc' ? { type: n.type, path: `/proc/${apid}/ns/${n.type === 'network' ? 'net' : n.type}` } : n,
      );
      delete s.hostname;
    });
    expect(r.stdout.split('\n')).toEqual(['pod-a', nsInode(apid, 'net'), nsInode(apid, 'uts'), nsInode(apid, 'ipc'), '']);
    await env.runtime.delete(a.id, { force: true });
  });

  it('runs podkit-pause as a pod sandbox: an app joins its PID and network namespaces, pause exits on SIGTERM', async () => {
    const pause = await env.create(
      env.spec(['/pause'], (s) => {
        s.mounts!.push({ destination: '/pause', type: 'bind', source: helperPath('podkit-pause'), options: ['bind', 'ro'] });
      }),
    );
    await env.runtime.start(pause.id);
    const ppid = env.runtime.state(pause.id).pid;
    const r = await env.sh('ps -o pid,comm | grep -v ps; readlink /proc/self/ns/net', (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'pid' || n.type === 'network' ? { type: n.type, path: `/proc/${ppid}/ns/${n.type === 'network' ? 'net' : 'pid'}` } : n));
    });
    expect(r.stdout).toMatch(/^\s*1 pause$/m);
    expect(r.stdout).toContain(nsInode(ppid, 'net'));
    await env.runtime.kill(pause.id, 'TERM');
    expect(await env.runtime.wait(pause.id)).toMatchObject({ exitCode: 0 });
    await env.runtime.delete(pause.id);
  });

  it('enforces a memory limit: the OOM killer ends the container (SIGKILL, exit 137 on the CLI)', async () => {
    const r = await env.run(
      env.spec(['tail', '/dev/zero'], (s) => {
        s.linux!.resources = { ...s.linux!.resources, memory: { limit: 16 * 1024 * 1024, swap: 16 * 1024 * 1024 } };
      }),
    );
    expect(r).toMatchObject({ exitCode: null, signal: 9 });
  });

  it('enforces a pids limit', async () => {
    const c = await env.create(
      env.spec(['sh', '-c', 'i=0; while [ $i -lt 20 ]; do sleep 1000 & i=$((i+1)); done'], (s) => {
        s.linux!.resources = { ...s.linux!.resources, pids: { limit: 8 } };
      }),
    );
    const rec = env.runtime.store.load(c.id);
    expect(fs.readFileSync(path.join(rec.cgroupPaths['pids']!, 'pids.max'), 'utf8').trim()).toBe('8');
    await env.runtime.start(c.id);
    // busybox sh gives up when fork fails: it could not start 20 processes.
    expect(await env.runtime.wait(c.id)).toMatchObject({ exitCode: 2 });
    expect(c.output().stderr).toMatch(/can't fork/);
    await env.runtime.delete(c.id);
  });

  it('applies cpu and cpuset limits to the container cgroup, beneath the caller own cgroup', async () => {
    const r = await env.sh('cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpuset/cpuset.cpus', (s) => {
      s.linux!.resources = { ...s.linux!.resources, cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0' } };
    });
    expect(r.stdout).toBe('512\n50000\n0\n');
  });

  it('pauses and resumes (freezer), lists pids, updates limits, reports stats, kills --all', async () => {
    const c = await env.create(env.spec(['sh', '-c', 'sleep 1000 & sleep 1000 & wait']));
    await env.runtime.start(c.id);
    const rec = env.runtime.store.load(c.id);
    await waitFor(() => env.runtime.pids(c.id).length === 3);
    expect(env.runtime.pids(c.id)).toContain(rec.pid);

    await env.runtime.pause(c.id);
    expect(env.runtime.state(c.id).status).toBe('paused');
    expect(fs.readFileSync(path.join(rec.cgroupPaths['freezer']!, 'freezer.state'), 'utf8').trim()).toBe('FROZEN');
    await expect(env.runtime.exec(c.id, { args: ['true'] })).rejects.toThrow(/paused/);
    await expect(env.runtime.pause(c.id)).rejects.toThrow(/container is paused/);
    await env.runtime.resume(c.id);
    expect(env.runtime.state(c.id).status).toBe('running');

    env.runtime.update(c.id, { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 50 } });
    expect(fs.readFileSync(path.join(rec.cgroupPaths['memory']!, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(64 * 1024 * 1024));
    const st = env.runtime.stats(c.id) as { pids: { current: number; limit: number }; memory: { usage: { limit: number } } };
    expect(st.pids).toEqual({ current: 3, limit: 50 });
    expect(st.memory.usage.limit).toBe(64 * 1024 * 1024);

    // kill --all on a paused container: every process is signalled, the cgroup stays frozen until resumed.
    await env.runtime.pause(c.id);
    await env.runtime.kill(c.id, 'KILL', { all: true });
    expect(env.runtime.state(c.id).status).toBe('paused');
    await env.runtime.resume(c.id);
    expect(await env.runtime.wait(c.id)).toMatchObject({ signal: 9 });
    await waitFor(() => env.runtime.store.status(rec) === 'stopped');
    await expect(env.runtime.pause(c.id)).rejects.toThrow(/container not running/);
    await env.runtime.delete(c.id);
  });

  it('selects the cgroup backend at run time and refuses hugepageLimits where hugetlb is not usable', async () => {
    const { layout, backend } = hostBackend();
    expect(backend.version).toBe(layout.mode === 'v2' ? 2 : 1);
    const spec = env.spec(['true'], (s) => void (s.linux!.resources = { hugepageLimits: [{ pageSize: '2MB', limit: 1 << 21 }] }));
    const expected = hugetlbAvailable(layout);
    if (!expected) {
      console.warn('runtime.priv.spec: hugetlb is usable on this host; the "not available here" case is covered on the fake tree only');
      return;
    }
    const id = env.nextId('huge');
    let err: unknown;
    try {
      await env.create(spec, id);
    } catch (e) {
      err = e;
    }
    expect(isInvalidArgument(err)).toBe(true);
    expect((err as Error).message).toBe(expected.message);
    expect((err as Error).message).toMatch(/^\/linux\/resources\/hugepageLimits: controller not available here: /);
    expect(env.runtime.list().map((c) => c.id)).not.toContain(id);
  });

  it('delete --force of a paused container thaws and kills it', async () => {
    const c = await env.create(env.spec(['sleep', '1000']));
    await env.runtime.start(c.id);
    await env.runtime.pause(c.id);
    await expect(env.runtime.delete(c.id)).rejects.toThrow(/paused \(use --force\)/);
    await env.runtime.delete(c.id, { force: true });
    expect(env.runtime.list().map((x) => x.id)).not.toContain(c.id);
  });
});
