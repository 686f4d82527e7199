/**
 * runc CVE-2019-5736 (GHSA-gxmr-w5mj-v8hh): a process in the container gets hold of the host binary
 * that set the container up — through /proc/<pid>/exe of the runtime's process while it is inside the
 * container (blocked on the exec FIFO during create, or entering for an exec) — and, once that
 * binary is no longer running, re-opens it for writing through /proc/self/fd/N and overwrites it.
 * The next container start would run the attacker's code as root on the host.
 *
 * The attack runs against a COPY of runtime-core's native-bin ($PODKIT_NATIVE_DIR points at it), so
 * even a successful attack cannot break anything else; the test fails when the copy changes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NATIVE_BIN, ready, SecEnv, sha256, until } from './harness';

const maybe = ready ? it : it.skip;
if (!ready) console.warn('security e2e: skipped (needs root and /bin/busybox)');

describe('CVE-2019-5736 class: overwriting the runtime binary through /proc/<pid>/exe', () => {
  let env: SecEnv;
  let nativeDir: string;
  let helper: string;
  let before: string;
  const savedDir = process.env['PODKIT_NATIVE_DIR'];

  beforeAll(() => {
    if (!ready) return;
    env = new SecEnv('exe');
    nativeDir = path.join(env.work, 'native-bin');
    fs.cpSync(NATIVE_BIN, nativeDir, { recursive: true });
    helper = path.join(nativeDir, 'podkit-init');
    before = sha256(helper);
    process.env['PODKIT_NATIVE_DIR'] = nativeDir;
  });

  afterAll(async () => {
    if (savedDir === undefined) delete process.env['PODKIT_NATIVE_DIR'];
    else process.env['PODKIT_NATIVE_DIR'] = savedDir;
    if (env) await env.cleanup();
  });

  /**
   * The attacker's script: open /proc/<pid>/exe of a runtime process, report what it points at, wait
   * until `go` exists (the binary is no longer executing), then try to reopen it for writing.
   */
  const attacker = (pid: string, go: string) =>
    [
      `if ! (: < /proc/${pid}/exe) 2>/dev/null; then echo "open: denied"; exit 0; fi`,
      `exec 7< /proc/${pid}/exe`,
      'echo "open: ok $(readlink /proc/self/fd/7)"',
      'touch /tmp/opened',
      `while [ ! -e ${go} ]; do sleep 0.01; done`,
      'if (echo "#!/bin/sh" > /proc/self/fd/7) 2>/dev/null; then echo "write: ok"; else echo "write: denied"; fi',
      'if (echo pwned >> /proc/self/fd/7) 2>/dev/null; then echo "append: ok"; else echo "append: denied"; fi',
    ].join('\n');

  maybe('during create: /proc/1/exe of the init blocked on the exec FIFO cannot be written', async () => {
    // The container's own process (after start) signals that the init's binary was replaced by execve.
    const bundle = env.bundle('create', ['sh', '-c', 'touch /tmp/started; exec sleep 1000']);
    const id = await env.create(bundle);
    // Created: PID 1 of the container is still the runtime's helper, waiting for `start`.
    const ex = await env.execDetached(id, ['sh', '-c', attacker('1', '/tmp/started')]);
    const rootfs = path.join(bundle, 'rootfs');
    await until(() => fs.existsSync(path.join(rootfs, 'tmp/opened')) || env.output(ex.id).stdout.includes('denied'));
    await env.runtime.start(id);
    await ex.wait();
    const out = env.output(ex.id).stdout;
    await env.remove(id);
    expect(out).toMatch(/^open: /);
    // Either /proc/1/exe could not be opened at all, or what it names cannot be written.
    expect(out).not.toMatch(/write: ok|append: ok/);
    expect(sha256(helper)).toBe(before);
  });

  maybe('the helper a container sees as its exe is not a writable host file', async () => {
    // Whatever the race above caught or missed: a created container's PID 1 is the helper. Its exe,
    // seen from the host, must be a sealed memfd or a read-only mount, not the file in native-bin.
    const bundle = env.bundle('look', ['true']);
    const id = await env.create(bundle);
    const pid = env.runtime.state(id).pid;
    const exe = fs.readlinkSync(`/proc/${pid}/exe`);
    let writable = true;
    try {
      fs.closeSync(fs.openSync(`/proc/${pid}/exe`, fs.constants.O_WRONLY));
    } catch {
      writable = false;
    }
    await env.remove(id);
    expect({ exe, writable }).toEqual({ exe: expect.not.stringMatching(new RegExp(`^${nativeDir}`)), writable: false });
    expect(sha256(helper)).toBe(before);
  });
});
