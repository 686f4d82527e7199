/**
 * Seccomp user notification against the real kernel: a profile with SCMP_ACT_NOTIFY and a
 * listenerPath, and a seccomp agent written here in Node (the addon's unixListen / unixAcceptFds /
 * seccompNotifRecv / seccompNotifSend) that receives the listener with the runtime-spec's "container
 * process state" and answers the container's syscalls. Needs root (namespaces, mounts, cgroups).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isFailedPrecondition } from '@podkit/errdefs';
import type { LinuxSeccomp, Spec } from '@podkit/oci-spec';
import { seccompNotifIdValid, seccompNotifRecv, seccompNotifSend, unixAcceptFds, unixListen, type SeccompNotification } from '../sys/native';
import { rejectionOf } from '../test-support/errors';
import { describeAsRoot, isRoot, waitUntil } from '../test-support/priv';
import { suiteEnv } from '../test-support/run';

const describeRoot = describeAsRoot('seccomp-notify.priv.spec', 'namespaces, mounts, cgroups');

/** Debian's runc, the peer the container process state is compared with, when installed. */
const RUNC = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => fs.existsSync(p));
if (isRoot && !RUNC) console.warn('seccomp-notify.priv.spec: the comparison with runc is skipped, runc is not installed');

/** How long the agent waits for a connection or a notification before giving up (a deadline, not a sleep). */
const DEADLINE_MS = 20_000;
/** x86_64 syscall numbers of mkdir and mkdirat. */
const MKDIR_NRS = [83, 258];
const ENOSPC = 28;

/** Polls `cond` until it holds or the deadline passes (then throws `what`). */
const until = (cond: () => boolean, what: string) => waitUntil(cond, what, { timeoutMs: DEADLINE_MS, everyMs: 2 });

/** Whether signal `sig` is pending for process `pid` (SigPnd or ShdPnd of /proc/<pid>/status). */
function pending(pid: number, sig: number): boolean {
  const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const mask = (k: string) => BigInt(`0x${new RegExp(`^${k}:\\s+([0-9a-f]+)`, 'm').exec(st)?.[1] ?? '0'}`);
  return ((mask('SigPnd') | mask('ShdPnd')) & (1n << BigInt(sig - 1))) !== 0n;
}

type Answer = { error: number } | { val: number } | { continue: true };

/**
 * A seccomp agent: accepts one connection on the listening socket, takes the listener fd and the
 * container process state, answers every notification with `answer(notification, index)` until no
 * process uses the filter any more.
 */
class Agent {
  readonly seen: SeccompNotification[] = [];
  /** The parent pid of each notifying process, read while its syscall waits for our answer. */
  readonly parents: number[] = [];
  state?: Record<string, unknown>;
  readonly done: Promise<void>;

  /** `untilEof` false for runc 1.1, which leaves the connection open after sending the state. */
  constructor(listenFd: number, answer: (n: SeccompNotification, i: number) => Answer, untilEof = true) {
    this.done = (async () => {
      const conn = await unixAcceptFds(listenFd, DEADLINE_MS, untilEof);
      if (!conn) throw new Error('the runtime never connected to the agent');
      this.state = JSON.parse(conn.payload) as Record<string, unknown>;
      expect(conn.fds).toHaveLength(1);
      const fd = conn.fds[0] as number;
      try {
        for (;;) {
          const n = await seccompNotifRecv(fd, DEADLINE_MS);
          if (n === null) throw new Error('no notification and no exit before the deadline');
          if ('closed' in n) return;
          this.seen.push(n);
          this.parents.push(Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${n.pid}/status`, 'utf8'))?.[1] ?? -1));
          seccompNotifSend(fd, { id: n.id, ...answer(n, this.seen.length - 1) });
        }
      } finally {
        fs.closeSync(fd);
      }
    })();
  }
}

describeRoot('seccomp user notification (privileged)', () => {
  const env = suiteEnv();
  let sock: string;
  let listenFd: number;
  beforeEach(() => {
    sock = path.join(env.bundle.dir, `agent-${Date.now()}.sock`);
    listenFd = unixListen(sock);
  });
  afterEach(() => {
    fs.closeSync(listenFd);
    fs.rmSync(sock, { force: true });
  });

  const notifyMkdir = (extra?: Partial<LinuxSeccomp>): LinuxSeccomp => ({
    defaultAction: 'SCMP_ACT_ALLOW',
    listenerPath: sock,
    listenerMetadata: 'podkit-test-metadata',
    syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }],
    ...extra,
  });

  it.each([true, false])("mkdir in the container gets the agent's answer: an errno, then success with val (noNewPrivileges %s)", async (nnp) => {
    // The first mkdir fails with the agent's ENOSPC; the second "succeeds" (val 0) without the kernel
    // running it, so the directory does not exist.
    const agent = new Agent(listenFd, (_n, i) => (i === 0 ? { error: ENOSPC } : { val: 0 }));
    const spec = env.spec(['sh', '-c', 'mkdir /tmp/a; echo rc=$?; mkdir /tmp/b && echo made-b; test -d /tmp/b || echo no-b'], (s: Spec) => {
      s.process!.noNewPrivileges = nnp;
      s.linux!.seccomp = notifyMkdir();
      s.annotations = { 'org.podkit.test': 'notify' };
    });
    const c = await env.create(spec);
    const rec = JSON.parse(fs.readFileSync(path.join(env.root, c.id, 'state.json'), 'utf8')) as { pid: number };
    await env.runtime.start(c.id);
    const status = await env.runtime.wait(c.id);
    await agent.done;
    await env.runtime.delete(c.id);
    const out = c.output();
    expect(out.stderr).toMatch(/mkdir: can't create directory '\/tmp\/a': No space left on device/);
    expect(out.stdout).toBe('rc=1\nmade-b\nno-b\n');
    expect(status).toMatchObject({ exitCode: 0 });
    expect(agent.seen).toHaveLength(2);
    for (const n of agent.seen) expect(MKDIR_NRS).toContain(n.nr);
    // The runtime-spec's container process state, sent with the listener.
    expect(agent.state).toEqual({
      ociVersion: expect.any(String),
      fds: ['seccompFd'],
      pid: rec.pid,
      metadata: 'podkit-test-metadata',
      state: { ociVersion: expect.any(String), id: c.id, status: 'creating', pid: rec.pid, bundle: env.bundle.dir, annotations: { 'org.podkit.test': 'notify' } },
    });
    // The notifications came from the container: mkdir, a child of the container's sh (its init).
    expect(agent.parents).toEqual([rec.pid, rec.pid]);
  });

  it('loads with SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (kernel 5.19+) and the other flags', async () => {
    const agent = new Agent(listenFd, () => ({ error: ENOSPC }));
    const r = env.run(
      env.spec(['mkdir', '/tmp/x'], (s) => {
        s.linux!.seccomp = notifyMkdir({ flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV', 'SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG'] });
      }),
    );
    const [res] = await Promise.all([r, agent.done]);
    expect(res.exitCode).toBe(1);
    expect(res.stderr).toMatch(/No space left on device/);
    expect(agent.seen).toHaveLength(1);
  });

  it.each([true, false])('SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV %s: a signal to a task whose notification the agent holds waits, or interrupts it', async (killable) => {
    // sh's own chdir (the `cd` builtin) is notified; sh has a handler for SIGUSR1.
    const c = await env.create(
      env.spec(['sh', '-c', 'trap "echo got-usr1" USR1; cd /tmp; echo rc=$?'], (s) => {
        s.process!.noNewPrivileges = true;
        s.linux!.seccomp = {
          defaultAction: 'SCMP_ACT_ALLOW',
          listenerPath: sock,
          syscalls: [{ names: ['chdir'], action: 'SCMP_ACT_NOTIFY' }],
          ...(killable ? { flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV' as const] } : {}),
        };
      }),
    );
    const conn = await unixAcceptFds(listenFd, DEADLINE_MS);
    const fd = conn!.fds[0] as number;
    try {
      await env.runtime.start(c.id);
      const n1 = await seccompNotifRecv(fd, DEADLINE_MS);
      if (n1 === null || 'closed' in n1) throw new Error('no notification for the chdir');
      process.kill(n1.pid, 'SIGUSR1');
      if (killable) {
        // The signal stays pending; the syscall still waits for our answer, and gets it.
        await until(() => pending(n1.pid, 10), 'SIGUSR1 to be pending');
        expect(seccompNotifIdValid(fd, n1.id)).toBe(true);
        seccompNotifSend(fd, { id: n1.id, val: 0 });
      } else {
        // The signal interrupts the wait: the notification is gone and our answer has no taker.
        await until(() => !seccompNotifIdValid(fd, n1.id), 'the notification to be withdrawn');
        expect(() => seccompNotifSend(fd, { id: n1.id, val: 0 })).toThrow(/ENOENT/);
        // The restarted chdir (if the shell's handler restarts it) is let through.
        for (;;) {
          const n = await seccompNotifRecv(fd, DEADLINE_MS);
          if (n === null) throw new Error('no exit before the deadline');
          if ('closed' in n) break;
          seccompNotifSend(fd, { id: n.id, continue: true });
        }
      }
      expect(await env.runtime.wait(c.id)).toMatchObject({ exitCode: 0 });
    } finally {
      fs.closeSync(fd);
      await env.runtime.delete(c.id, { force: true });
    }
    const out = c.output().stdout;
    expect(out).toContain('got-usr1\n');
    if (killable) expect(out).toContain('rc=0\n');
  });

  it('an exec process with the NOTIFY profile sends its own listener, with the running container state', async () => {
    const first = new Agent(listenFd, () => ({ continue: true }));
    const c = await env.create(env.spec(['sleep', '1000'], (s) => (s.linux!.seccomp = notifyMkdir())));
    await env.runtime.start(c.id);
    const rec = JSON.parse(fs.readFileSync(path.join(env.root, c.id, 'state.json'), 'utf8')) as { pid: number };
    const second = new Agent(listenFd, () => ({ error: ENOSPC }));
    let stderr = '';
    try {
      const ex = await env.exec(c.id, { args: ['mkdir', '/tmp/e'] });
      expect(ex).toMatchObject({ exitCode: 1 });
      stderr = ex.stderr;
      await second.done;
      expect(second.state).toMatchObject({ fds: ['seccompFd'], pid: ex.pid, state: { id: c.id, status: 'running', pid: rec.pid } });
      expect(second.seen).toHaveLength(1);
    } finally {
      await env.runtime.delete(c.id, { force: true });
    }
    await first.done;
    expect(first.seen).toHaveLength(0);
    expect(stderr).toMatch(/No space left on device/);
  });

  (RUNC ? it : it.skip)('sends the container process state runc sends: the same fields, fds and metadata, for the same bundle', async () => {
    const spec = env.spec(['mkdir', '/tmp/r'], (s) => (s.linux!.seccomp = notifyMkdir()));
    const ours = new Agent(listenFd, () => ({ error: ENOSPC }));
    const [res] = await Promise.all([env.run(spec), ours.done]);
    expect(res).toMatchObject({ exitCode: 1 });
    // runc, same bundle (its relative cgroupsPath lands beneath runc's own cgroup, as ours does).
    const theirs = new Agent(listenFd, () => ({ error: ENOSPC }), false);
    const runcRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-runc-'));
    const id = env.nextId('runc');
    env.bundle.write(spec);
    const child = spawn(RUNC!, ['--root', runcRoot, 'run', '--bundle', env.bundle.dir, id], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = new Promise<number | null>((resolve) => child.on('close', resolve));
      await theirs.done;
      expect({ code: await code, stderr }).toMatchObject({ code: 1, stderr: expect.stringMatching(/No space left on device/) });
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      spawnSync(RUNC!, ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore' });
      fs.rmSync(runcRoot, { recursive: true, force: true });
    }
    const keys = (o: unknown) => Object.keys(o as object).sort();
    expect(keys(ours.state)).toEqual(keys(theirs.state));
    expect(keys(ours.state!['state'])).toEqual(keys(theirs.state!['state']));
    for (const st of [ours.state!, theirs.state!]) {
      expect(st).toMatchObject({ fds: ['seccompFd'], metadata: 'podkit-test-metadata', state: { status: 'creating', bundle: env.bundle.dir } });
      expect((st['state'] as { pid: number }).pid).toBe(st['pid']);
    }
  });

  it('fails create with FailedPrecondition naming listenerPath when no agent listens there', async () => {
    const spec = env.spec(['true'], (s) => (s.linux!.seccomp = notifyMkdir({ listenerPath: path.join(env.bundle.dir, 'nobody.sock') })));
    const err = await rejectionOf(env.create(spec));
    expect(isFailedPrecondition(err)).toBe(true);
    expect(err.message).toMatch(/linux\.seccomp\.listenerPath: sending the seccomp listener to .*nobody\.sock failed: .*ENOENT/);
    expect(fs.readdirSync(env.root).filter((n) => !n.startsWith('.'))).toEqual([]);
  });
});
