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
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NATIVE_BIN, ready, SecEnv, sha256, until } from './harness';

const maybe = ready ? it : it.skip;
if (!ready) console.warn('security e2e: skipped (needs root and /bin/busybox)');

const PODRUN = path.resolve(__dirname, '../../../packages/runtime-core/bin/podrun');
const podrunBuilt = fs.existsSync(path.resolve(PODRUN, '../../dist/cli/podrun.js'));
// The exec variant's attacker is a static C program (exe-catcher.c): a shell loop is too slow to catch
// a helper that is inside the container for a fraction of a millisecond.
const gcc = ready && spawnSync('gcc', ['--version'], { stdio: 'ignore' }).status === 0;
if (ready && !podrunBuilt) console.warn('security e2e: the exec variant of CVE-2019-5736 is skipped (podrun is not built: npm run build)');
if (ready && !gcc) console.warn('security e2e: the exec variant of CVE-2019-5736 is skipped (no gcc to build its static attacker)');

/** `podrun exec` of one command, with the helpers from `nativeDir`; resolves with its exit code and stderr. */
function podrunExec(root: string, id: string, args: string[], nativeDir: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PODRUN, ['--root', root, 'exec', id, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PODKIT_NATIVE_DIR: nativeDir } });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

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

  (podrunBuilt && gcc ? maybe : it.skip)(
    'during exec: the podkit-init of a `podrun exec`, caught inside a running container before its execve, cannot be written',
    async () => {
      // The container's main process is the attacker (root, the default capabilities): it scans its
      // PID namespace for a process whose exe is podkit-init's memfd, SIGSTOPs it, tries to open the exe
      // for writing and to write through it, keeps a read-only fd, SIGCONTs it and, once it has exec'd,
      // tries again through /proc/self/fd/N. Then it writes its report to /result.
      const catcher = path.join(env.work, 'exe-catcher');
      const cc = spawnSync('gcc', ['-static', '-O2', '-Wall', '-o', catcher, path.join(__dirname, 'exe-catcher.c')], { encoding: 'utf8' });
      expect(cc.stderr).toBe('');
      const bundle = env.bundle('exec', ['/exe-catcher', '/result']);
      const rootfs = path.join(bundle, 'rootfs');
      fs.copyFileSync(catcher, path.join(rootfs, 'exe-catcher'));
      fs.chmodSync(path.join(rootfs, 'exe-catcher'), 0o755);
      const podrunFiles = [PODRUN, process.execPath];
      const podrunBefore = podrunFiles.map(sha256);
      const id = await env.create(bundle);
      await env.runtime.start(id);
      const result = path.join(rootfs, 'result');
      const codes: (number | null)[] = [];
      let stderr = '';
      let report = '';
      try {
        // Execs until the attacker has caught one (it usually does within a few): no fixed wait.
        const deadline = Date.now() + 90_000;
        while (!fs.existsSync(result) && Date.now() < deadline && codes.length < 500) {
          const r = await podrunExec(env.runtime.store.root, id, ['/bin/true'], nativeDir);
          codes.push(r.code);
          if (r.code !== 0) stderr += r.stderr;
        }
        if (fs.existsSync(result)) report = fs.readFileSync(result, 'utf8');
      } finally {
        await env.remove(id);
      }
      // Proof that the attack happened: a process of the container's PID namespace, stopped while its
      // exe still named podkit-init's memfd.
      expect(report).toMatch(/^caught: pid \d+ exe \/memfd:podkit-init.* state T$/m);
      // Every exec still worked (the stopped one once continued).
      expect({ codes: codes.filter((c) => c !== 0), stderr }).toEqual({ codes: [], stderr: '' });
      // The tries while it was stopped (write-only, read-write, truncate) and, when a read-only open of
      // the exe worked, through that fd (reopened write-only while stopped; write-only, truncate and
      // append after its execve): none opened the binary and wrote.
      const tries = [...report.matchAll(/^(\S+): open (\S+) write (\S+)$/gm)].map((m) => ({ try: m[1], open: m[2], write: m[3] }));
      const reopened = /^while-stopped-rdonly: ok$/m.test(report);
      expect(tries.map((t) => t.try)).toEqual([
        'while-stopped-wronly',
        'while-stopped-rdwr',
        'while-stopped-trunc',
        ...(reopened ? ['while-stopped-reopen', 'after-exec-reopen-wronly', 'after-exec-reopen-trunc', 'after-exec-reopen-append'] : []),
      ]);
      expect(tries.filter((t) => t.write === 'ok')).toEqual([]);
      expect(report).toMatch(/^after-exec-helper-running: no$/m);
      // The host's files: the helper (the copy this test's podrun ran) and what podrun is.
      expect(sha256(helper)).toBe(before);
      expect(podrunFiles.map(sha256)).toEqual(podrunBefore);
    },
    150_000,
  );

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
