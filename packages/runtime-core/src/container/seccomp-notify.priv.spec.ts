/**
 * Seccomp user notification against the real kernel: a profile with SCMP_ACT_NOTIFY and a
 * listenerPath, and a seccomp agent written here in Node (the addon's unixListen / unixAcceptFds /
 * seccompNotifRecv / seccompNotifSend) that receives the listener with the runtime-spec's "container
 * process state" and answers the container's syscalls. Needs root (namespaces, mounts, cgroups).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isFailedPrecondition } from '@podkit/errdefs';
import type { LinuxSeccomp, Spec } from '@podkit/oci-spec';
import { seccompNotifRecv, seccompNotifSend, unixAcceptFds, unixListen, type SeccompNotification } from '../sys/native';
import { TestEnv } from '../test-support/run';

const root = process.getuid?.() === 0;
const describeRoot = root ? describe : describe.skip;
if (!root) console.warn('seccomp-notify.priv.spec: skipped, needs root (namespaces, mounts, cgroups)');

/** How long the agent waits for a connection or a notification before giving up (a deadline, not a sleep). */
const DEADLINE_MS = 20_000;
/** x86_64 syscall numbers of mkdir and mkdirat. */
const MKDIR_NRS = [83, 258];
const ENOSPC = 28;

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

  constructor(listenFd: number, answer: (n: SeccompNotification, i: number) => Answer) {
    this.done = (async () => {
      const conn = await unixAcceptFds(listenFd, DEADLINE_MS);
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
  let env: TestEnv;
  let sock: string;
  let listenFd: number;
  beforeAll(() => {
    env = new TestEnv();
  });
  beforeEach(() => {
    sock = path.join(env.bundle.dir, `agent-${Date.now()}.sock`);
    listenFd = unixListen(sock);
  });
  afterEach(() => {
    fs.closeSync(listenFd);
    fs.rmSync(sock, { force: true });
  });
  afterAll(async () => {
    await env.cleanup();
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

  it('an exec process with the NOTIFY profile sends its own listener, with the running container state', async () => {
    const first = new Agent(listenFd, () => ({ continue: true }));
    const c = await env.create(env.spec(['sleep', '1000'], (s) => (s.linux!.seccomp = notifyMkdir())));
    await env.runtime.start(c.id);
    const rec = JSON.parse(fs.readFileSync(path.join(env.root, c.id, 'state.json'), 'utf8')) as { pid: number };
    const second = new Agent(listenFd, () => ({ error: ENOSPC }));
    const err = path.join(env.bundle.dir, 'exec-notify.err');
    const efd = fs.openSync(err, 'w');
    try {
      const h = await env.runtime.exec(c.id, { args: ['mkdir', '/tmp/e'], stdio: { stderr: efd } });
      expect(await h.wait()).toMatchObject({ exitCode: 1 });
      await second.done;
      expect(second.state).toMatchObject({ fds: ['seccompFd'], pid: h.pid, state: { id: c.id, status: 'running', pid: rec.pid } });
      expect(second.seen).toHaveLength(1);
    } finally {
      fs.closeSync(efd);
      await env.runtime.delete(c.id, { force: true });
    }
    await first.done;
    expect(first.seen).toHaveLength(0);
    expect(fs.readFileSync(err, 'utf8')).toMatch(/No space left on device/);
  });

  it('fails create with FailedPrecondition naming listenerPath when no agent listens there', async () => {
    const spec = env.spec(['true'], (s) => (s.linux!.seccomp = notifyMkdir({ listenerPath: path.join(env.bundle.dir, 'nobody.sock') })));
    const err = await env.create(spec).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isFailedPrecondition(err)).toBe(true);
    expect((err as Error).message).toMatch(/linux\.seccomp\.listenerPath: sending the seccomp listener to .*nobody\.sock failed: .*ENOENT/);
    expect(fs.readdirSync(env.root).filter((n) => !n.startsWith('.'))).toEqual([]);
  });
});
