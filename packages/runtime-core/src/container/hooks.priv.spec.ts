/**
 * OCI hooks against the real kernel: each kind records what it saw (the state JSON on stdin, its args
 * and env, the mount/pid namespace it ran in) and the order they ran in. Needs root.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isDeadlineExceeded, isFailedPrecondition } from '@podkit/errdefs';
import type { Hook, Spec } from '@podkit/oci-spec';
import { TestEnv } from '../test-support/run';

const root = process.getuid?.() === 0;
const describeRoot = root ? describe : describe.skip;
if (!root) console.warn('hooks.priv.spec: skipped, needs root (namespaces, mounts, cgroups)');

interface Seen {
  kind: string;
  /** $# of the hook: args[1..] reached it. */
  argc: string;
  env: string;
  mnt: string;
  pidns: string;
  state: Record<string, unknown>;
}

function parseSeen(text: string): Seen {
  const [kind = '', argc = '', env = '', mnt = '', pidns = '', ...rest] = text.split('\n');
  return { kind, argc, env, mnt, pidns, state: JSON.parse(rest.join('\n')) as Record<string, unknown> };
}

describeRoot('OCI hooks (privileged)', () => {
  let env: TestEnv;
  let dir: string;
  let hostScript: string;
  beforeAll(() => {
    env = new TestEnv();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-hooks-'));
    // $1: the file to write, $2: the kind; appends the kind to the order log.
    hostScript = path.join(dir, 'hook.sh');
    const body = '#!/bin/sh\nset -e\n{ echo "$2"; echo "$#"; echo "$HOOKVAR"; readlink /proc/self/ns/mnt; readlink /proc/self/ns/pid; cat; } > "$1"\necho "$2" >> "$ORDER"\n';
    fs.writeFileSync(hostScript, body.replace('$ORDER', path.join(dir, 'order')), { mode: 0o755 });
    // The startContainer hook resolves in the container: busybox sh; writes into the rootfs.
    fs.writeFileSync(path.join(env.bundle.rootfs, 'hook.sh'), '#!/bin/sh\nset -e\n{ echo "$2"; echo "$#"; echo "$HOOKVAR"; readlink /proc/self/ns/mnt; readlink /proc/self/ns/pid; cat; } > "$1"\n', { mode: 0o755 });
  });
  afterAll(async () => {
    await env.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    fs.rmSync(path.join(dir, 'order'), { force: true });
  });

  const host = (kind: string, extra: Partial<Hook> = {}): Hook => ({
    path: hostScript,
    args: [`${kind}-arg0`, path.join(dir, `${kind}.seen`), kind],
    env: [`HOOKVAR=${kind}-env`],
    ...extra,
  });
  const order = () => fs.readFileSync(path.join(dir, 'order'), 'utf8').trim().split('\n');
  const seen = (kind: string) => parseSeen(fs.readFileSync(path.join(dir, `${kind}.seen`), 'utf8'));

  it('runs all six kinds at their moment, in their namespace, with the state on stdin', async () => {
    const spec = env.spec(['sleep', '1000'], (s) => {
      s.annotations = { 'org.example/a': 'b' };
      s.hooks = {
        prestart: [host('prestart')],
        createRuntime: [host('createRuntime')],
        createContainer: [host('createContainer')],
        startContainer: [{ path: '/hook.sh', args: ['sc-arg0', '/startContainer.seen', 'startContainer'], env: ['HOOKVAR=startContainer-env'], timeout: 10 }],
        poststart: [host('poststart')],
        poststop: [host('poststop')],
      };
    });
    const c = await env.create(spec);
    const pid = env.runtime.state(c.id).pid;
    expect(order()).toEqual(['prestart', 'createRuntime', 'createContainer']);
    const hostMnt = fs.readlinkSync('/proc/self/ns/mnt');
    const hostPid = fs.readlinkSync('/proc/self/ns/pid');
    const ctrMnt = fs.readlinkSync(`/proc/${pid}/ns/mnt`);
    const ctrPid = fs.readlinkSync(`/proc/${pid}/ns/pid`);
    expect(ctrMnt).not.toBe(hostMnt);
    const base = { ociVersion: expect.any(String), id: c.id, bundle: env.bundle.dir, annotations: { 'org.example/a': 'b' } };
    for (const kind of ['prestart', 'createRuntime']) {
      expect(seen(kind)).toEqual({ kind, argc: '2', env: `${kind}-env`, mnt: hostMnt, pidns: hostPid, state: { ...base, status: 'creating', pid } });
    }
    // createContainer: in the container's namespaces, before pivot_root (the host path resolved).
    expect(seen('createContainer')).toEqual({ kind: 'createContainer', argc: '2', env: 'createContainer-env', mnt: ctrMnt, pidns: ctrPid, state: { ...base, status: 'creating', pid } });
    expect(fs.existsSync(path.join(env.bundle.rootfs, 'startContainer.seen'))).toBe(false);

    expect(await env.runtime.start(c.id)).toEqual([]);
    const sc = parseSeen(fs.readFileSync(path.join(env.bundle.rootfs, 'startContainer.seen'), 'utf8'));
    expect(sc).toEqual({ kind: 'startContainer', argc: '2', env: 'startContainer-env', mnt: ctrMnt, pidns: ctrPid, state: { ...base, status: 'created', pid } });
    expect(order()).toEqual(['prestart', 'createRuntime', 'createContainer', 'poststart']);
    expect(seen('poststart')).toMatchObject({ mnt: hostMnt, state: { ...base, status: 'running', pid } });
    expect(env.runtime.state(c.id).status).toBe('running');

    expect(await env.runtime.delete(c.id, { force: true })).toEqual([]);
    expect(order()).toEqual(['prestart', 'createRuntime', 'createContainer', 'poststart', 'poststop']);
    expect(seen('poststop')).toEqual({ kind: 'poststop', argc: '2', env: 'poststop-env', mnt: hostMnt, pidns: hostPid, state: { ...base, status: 'stopped' } });
    fs.rmSync(path.join(env.bundle.rootfs, 'startContainer.seen'));
  });

  const failing: Hook = { path: '/bin/sh', args: ['sh', '-c', 'echo hook-broke >&2; exit 3'] };

  async function expectCreateFails(hooks: Spec['hooks'], check: (err: unknown) => boolean, message: RegExp): Promise<void> {
    const spec = env.spec(['true'], (s) => void (s.hooks = hooks));
    const id = env.nextId('hookfail');
    let err: unknown;
    try {
      await env.create(spec, id);
    } catch (e) {
      err = e;
    }
    expect(err).toBeDefined();
    expect(check(err)).toBe(true);
    expect((err as Error).message).toMatch(message);
    // Nothing is left behind: the name is free again.
    expect(env.runtime.list().map((s) => s.id)).not.toContain(id);
  }

  it('fails create when a createRuntime or prestart hook fails, with its stderr', async () => {
    await expectCreateFails({ createRuntime: [failing] }, isFailedPrecondition, /createRuntime hook 0 \(\/bin\/sh\) failed: exit status 3: hook-broke/);
    await expectCreateFails({ prestart: [host('prestart'), failing] }, isFailedPrecondition, /prestart hook 1 \(\/bin\/sh\) failed: exit status 3/);
  });

  it('passes args[0] as the argv[0] of the hook (busybox picks its applet by it)', async () => {
    // Run as "busybox" (no args) it would print its help and exit 0; as "false" it fails.
    const asFalse: Hook = { path: '/bin/busybox', args: ['false'] };
    await expectCreateFails({ createRuntime: [asFalse] }, isFailedPrecondition, /createRuntime hook 0 \(\/bin\/busybox\) failed: exit status 1/);
    await expectCreateFails({ createContainer: [asFalse] }, isFailedPrecondition, /createContainer hook 0 \(\/bin\/busybox\) failed: exit status 1/);
  });

  it('fails create when a createContainer hook fails or outlives its timeout', async () => {
    await expectCreateFails({ createContainer: [failing] }, isFailedPrecondition, /createContainer hook 0 \(\/bin\/sh\) failed: exit status 3/);
    await expectCreateFails({ createContainer: [{ path: '/bin/sleep', args: ['sleep', '30'], timeout: 1 }] }, isDeadlineExceeded, /createContainer hook 0 \(\/bin\/sleep\) did not finish within its timeout of 1 s/);
  });

  it('fails create when a createRuntime hook outlives its timeout', async () => {
    await expectCreateFails({ createRuntime: [{ path: '/bin/sleep', args: ['sleep', '30'], timeout: 1 }] }, isDeadlineExceeded, /createRuntime hook 0 \(\/bin\/sleep\) did not finish within its timeout of 1 s/);
  });

  it('fails start when a startContainer hook fails; the process never runs', async () => {
    const marker = path.join(env.bundle.rootfs, 'ran');
    const spec = env.spec(['touch', '/ran'], (s) => void (s.hooks = { startContainer: [{ path: '/bin/false' }] }));
    const c = await env.create(spec);
    await expect(env.runtime.start(c.id)).rejects.toThrow(/closed the exec FIFO without starting|exited before it was started/);
    await env.runtime.wait(c.id);
    expect(c.output().stderr).toMatch(/startContainer hook 0 \(\/bin\/false\) failed: exit status 1/);
    expect(fs.existsSync(marker)).toBe(false);
    await env.runtime.delete(c.id, { force: true });
  });

  it('only warns when poststart or poststop hooks fail (the container runs and is deleted)', async () => {
    const spec = env.spec(['sh', '-c', 'exit 0'], (s) => void (s.hooks = { poststart: [failing], poststop: [failing, host('poststop')] }));
    const c = await env.create(spec);
    const started = await env.runtime.start(c.id);
    expect(started).toEqual([expect.stringMatching(/poststart hook 0 \(\/bin\/sh\) failed: exit status 3: hook-broke/)]);
    expect((await env.runtime.wait(c.id)).exitCode).toBe(0);
    const deleted = await env.runtime.delete(c.id);
    expect(deleted).toEqual([expect.stringMatching(/poststop hook 0 \(\/bin\/sh\) failed: exit status 3/)]);
    // The next poststop hook still ran.
    expect(order()).toEqual(['poststop']);
    expect(env.runtime.list().map((s) => s.id)).not.toContain(c.id);
  });
});
