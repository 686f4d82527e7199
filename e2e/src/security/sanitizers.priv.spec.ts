/**
 * Native hygiene (issue 6): the helpers built with AddressSanitizer + UndefinedBehaviorSanitizer (and
 * LeakSanitizer, on by default with ASan) run real containers, and nothing is reported.
 *
 * The sanitized build is native/CMakeLists.txt's PODKIT_SANITIZE option, configured here into a temp
 * folder (the helpers are then linked dynamically: ASan cannot link statically); the addon is the
 * normal one. Sanitizer reports go to the helper's stderr, which is the container's.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NATIVE_BIN, ready, SecEnv } from './harness';

const NATIVE_SRC = path.resolve(__dirname, '../../../native');
const haveToolchain = ['cmake', 'make', 'g++'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);
const maybe = ready && haveToolchain ? it : it.skip;
if (!haveToolchain) console.warn('sanitizers: skipped (needs cmake, make, g++)');

const REPORT = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: (Address|Undefined|Leak)Sanitizer/;

describe('native hygiene: helpers under ASan + UBSan + LSan', () => {
  let env: SecEnv;
  let dir: string;
  const savedDir = process.env['PODKIT_NATIVE_DIR'];

  beforeAll(() => {
    if (!ready || !haveToolchain) return;
    env = new SecEnv('asan');
    // native/CMakeLists.txt's PODKIT_SANITIZE option: every target compiled with ASan + UBSan, the
    // helpers linked dynamically (ASan cannot link statically). Built out of tree, in a temp folder.
    const build = path.join(env.work, 'native-asan-build');
    execFileSync('cmake', ['-S', NATIVE_SRC, '-B', build, '-DCMAKE_BUILD_TYPE=Debug', '-DPODKIT_SANITIZE=ON'], { stdio: 'ignore' });
    execFileSync('make', ['-C', build, `-j${Math.min(8, os.cpus().length)}`, 'podkit-init', 'podkit-pause'], { stdio: 'ignore' });
    dir = path.join(env.work, 'native-bin');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(NATIVE_BIN, 'podkit_native.node'), path.join(dir, 'podkit_native.node'));
    for (const h of ['podkit-init', 'podkit-pause']) fs.copyFileSync(path.join(build, h), path.join(dir, h));
    process.env['PODKIT_NATIVE_DIR'] = dir;
  }, 300_000);

  afterAll(async () => {
    if (savedDir === undefined) delete process.env['PODKIT_NATIVE_DIR'];
    else process.env['PODKIT_NATIVE_DIR'] = savedDir;
    if (env) await env.cleanup();
  });

  maybe('the helpers really are sanitized builds', () => {
    for (const h of ['podkit-init', 'podkit-pause']) {
      const bin = fs.readFileSync(path.join(dir, h));
      expect([bin.includes('libasan.so'), bin.includes('libubsan.so')]).toEqual([true, true]);
    }
  });

  maybe('podkit-init returning from main (version, missing channel) reports no leak or error', () => {
    for (const args of [['-v'], []]) {
      const r = spawnSync(path.join(dir, 'podkit-init'), args, { encoding: 'utf8' });
      expect(r.stderr).not.toMatch(REPORT);
      expect(r.status).toBe(args.length ? 0 : 2);
    }
  });

  maybe('podkit-pause: started, stopped by SIGTERM, no report (run on the host: a dynamic build cannot run in a busybox rootfs)', async () => {
    const child = spawn(path.join(dir, 'podkit-pause'), [], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // It says it is not PID 1 once its handlers are installed: then SIGTERM is handled.
    await new Promise<void>((r) =>
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('not running as PID 1')) r();
      }),
    );
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).not.toMatch(REPORT);
  });

  maybe('a container with every feature of the default config, an exec and failures run clean', async () => {
    const bundle = env.bundle('full', ['sh', '-c', 'echo ok; exec sleep 1000'], (s) => {
      s.hostname = 'asan';
      s.linux = { ...s.linux, sysctl: { 'net.ipv4.ip_forward': '1' } };
      s.process = { ...s.process, user: { uid: 1000, gid: 1000, additionalGids: [5] }, oomScoreAdj: 100 } as typeof s.process;
      s.linux.devices = [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229 }];
    });
    const id = await env.create(bundle);
    // Control: the container's init (still the helper, blocked on the exec FIFO) runs with ASan.
    expect(fs.readFileSync(`/proc/${env.runtime.state(id).pid}/maps`, 'utf8')).toMatch(/libasan\.so/);
    await env.runtime.start(id);
    const ex = await env.exec(id, ['sh', '-c', 'id -u; cat /proc/sys/net/ipv4/ip_forward']);
    const bad = await env.exec(id, ['/no/such/program']);
    await env.remove(id);
    expect(ex.result?.stdout).toBe('1000\n1\n');
    expect(bad.error).toBeDefined();
    // A helper that fails half-way (a mount that cannot be made), and one refused by the kernel.
    const failing = await env.run(env.bundle('failing', ['true'], (s) => s.mounts?.push({ destination: '/x', type: 'nosuchfs', source: 'none' })));
    expect(failing.error).toBeDefined();
    const all = fs
      .readdirSync(env.work)
      .filter((f) => f.endsWith('.err') || f.endsWith('.out'))
      .map((f) => fs.readFileSync(path.join(env.work, f), 'utf8'))
      .join('\n');
    expect(all).not.toMatch(REPORT);
    expect(`${failing.error?.message} ${bad.error?.message}`).not.toMatch(REPORT);
  });
});
