/**
 * Writes the runtime makes into /proc, and sysctls:
 * - CRI-O CVE-2022-0811 (GHSA-6x2m-w449-qwx7, "cr8escape"): a sysctl value carrying a second sysctl
 *   (`kernel.shm_rmid_forced=1+kernel.core_pattern=|…`) sets the host's core_pattern, whose pipe
 *   handler the kernel runs as root on the host. Here the value, and keys that try to reach a
 *   non-namespaced sysctl, must not change the host's core_pattern (read before and after).
 * - runc CVE-2022-29162 (GHSA-f3fp-gc8g-vw66): a process started by `exec` got a non-empty inheritable
 *   capability set, which file capabilities and ambient raising can turn into real capabilities.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isInvalidArgument, isNotFound } from '@podkit/errdefs';
import { ready, SecEnv } from './harness';

const maybe = ready ? it : it.skip;
if (!ready) console.warn('security e2e: skipped (needs root and /bin/busybox)');

const CORE_PATTERN = '/proc/sys/kernel/core_pattern';

describe('sysctl injection (CVE-2022-0811 class)', () => {
  let env: SecEnv;
  let before: string;
  beforeAll(() => {
    if (!ready) return;
    env = new SecEnv('sysctl');
    before = fs.readFileSync(CORE_PATTERN, 'utf8');
  });
  afterAll(async () => {
    if (!env) return;
    await env.cleanup();
  });
  afterEach(() => {
    // A successful injection must not outlive the test that showed it.
    if (ready && fs.readFileSync(CORE_PATTERN, 'utf8') !== before) fs.writeFileSync(CORE_PATTERN, before);
  });

  const payload = `|/bin/busybox touch /podkit-sec-${process.pid} #`;

  maybe('a value that carries a second sysctl only ever reaches the namespaced key', async () => {
    const o = await env.run(
      env.bundle('value', ['cat', '/proc/sys/kernel/shm_rmid_forced', '/proc/sys/kernel/core_pattern'], (s) => {
        s.linux!.sysctl = { 'kernel.shm_rmid_forced': `1+kernel.core_pattern=${payload}` };
      }),
    );
    expect(fs.readFileSync(CORE_PATTERN, 'utf8')).toBe(before);
    // The kernel refuses the value (create fails naming the sysctl), or takes only its number.
    if (o.error) expect(o.error.message).toMatch(/shm_rmid_forced/);
    else expect(o.result!.stdout).toBe(`1\n${before}`);
  });

  maybe('keys that reach for a host sysctl are refused', async () => {
    for (const key of [
      'kernel.core_pattern',
      'kernel.shm_rmid_forced=1+kernel.core_pattern',
      'kernel.shm_rmid_forced/../core_pattern',
      'net.ipv4/../../kernel/core_pattern',
      'net.ipv4.ip_forward/../../../kernel/core_pattern',
      'fs.mqueue/../../kernel/core_pattern',
    ]) {
      const o = await env.run(
        env.bundle(`key-${key.replace(/[^a-z]/g, '')}`, ['true'], (s) => {
          s.linux!.sysctl = { [key]: payload };
        }),
      );
      expect(fs.readFileSync(CORE_PATTERN, 'utf8')).toBe(before);
      // Refused: at validation (naming /linux/sysctl/<key>), or, for a key that passes the namespace
      // check, by the helper: every dot becomes a slash, so no `..` survives and the path is not found.
      expect(isInvalidArgument(o.error) || isNotFound(o.error)).toBe(true);
      expect(o.error!.message).toMatch(/\/linux\/sysctl\/|podkit-init \(sysctl\)/);
    }
  });
});

describe('inheritable capabilities on exec (CVE-2022-29162 class)', () => {
  let env: SecEnv;
  beforeAll(() => {
    if (ready) env = new SecEnv('caps');
  });
  afterAll(async () => {
    if (env) await env.cleanup();
  });

  function capSets(text: string): Record<string, string> {
    return Object.fromEntries(
      text
        .split('\n')
        .filter((l) => l.startsWith('Cap'))
        .map((l) => l.split(/:\s+/) as [string, string]),
    );
  }

  maybe('neither the container process nor an exec process gets inheritable or ambient capabilities it was not given', async () => {
    const bundle = env.bundle('exec', ['sh', '-c', 'grep ^Cap /proc/self/status > /tmp/init-caps; exec sleep 1000']);
    const id = await env.create(bundle);
    await env.runtime.start(id);
    const o = await env.exec(id, ['grep', '^Cap', '/proc/self/status']);
    const init = fs.readFileSync(path.join(bundle, 'rootfs/tmp/init-caps'), 'utf8');
    // An exec with a full process document: capabilities as runc's `exec --cap` would make them.
    const full = await env.runtime.exec(id, {
      process: {
        args: ['grep', '^Cap', '/proc/self/status'],
        cwd: '/',
        env: ['PATH=/bin'],
        user: { uid: 0, gid: 0 },
        capabilities: { bounding: ['CAP_KILL', 'CAP_SYS_ADMIN'], effective: ['CAP_KILL', 'CAP_SYS_ADMIN'], permitted: ['CAP_KILL', 'CAP_SYS_ADMIN'] },
      },
      stdio: { stdout: fs.openSync(path.join(env.work, 'full.out'), 'w') },
    });
    await full.wait();
    const fullOut = fs.readFileSync(path.join(env.work, 'full.out'), 'utf8');
    await env.remove(id);
    expect(o.error).toBeUndefined();
    for (const sets of [capSets(init), capSets(o.result!.stdout), capSets(fullOut)]) {
      expect(sets).toMatchObject({ CapInh: '0000000000000000', CapAmb: '0000000000000000' });
    }
    // The default config's three capabilities (AUDIT_WRITE 29, KILL 5, NET_BIND_SERVICE 10), no more.
    expect(capSets(o.result!.stdout)).toMatchObject({ CapPrm: '0000000020000420', CapEff: '0000000020000420', CapBnd: '0000000020000420' });
    // CAP_KILL (5) + CAP_SYS_ADMIN (21): what was asked, and still nothing inheritable.
    expect(capSets(fullOut)).toMatchObject({ CapPrm: '0000000000200020', CapBnd: '0000000000200020' });
  });
});
