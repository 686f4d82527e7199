/**
 * Masking and procfs writes redirected by the image:
 * - runc CVE-2025-31133 (GHSA-9493-h29p-rfm2): maskedPaths are masked by bind-mounting /dev/null;
 *   when the container's /dev/null is a symlink (here: an image without its own /dev tmpfs ships
 *   /dev/null -> /tmp/canary), the "mask" becomes a bind of the symlink's target and a masked path
 *   (/proc/keys, /proc/timer_list...) turns into a writable file. With /proc/sys/kernel/core_pattern as
 *   target that is a host escape; the canary shows the same primitive without touching the host.
 * - runc CVE-2025-52881 (GHSA-cgrx-mc8f-2prm): writes the runtime makes into /proc (sysctls,
 *   oom_score_adj) redirected to another file because the /proc the runtime writes through is not
 *   a real procfs (here: the config mounts no /proc and the image ships fake files).
 * Each canary must keep its content, and masked paths must really be masked.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Spec } from '@podkit/oci-spec';
import { ready, SecEnv } from './harness';

const maybe = ready ? it : it.skip;
if (!ready) console.warn('security e2e: skipped (needs root and /bin/busybox)');

/** Drops the config's own /dev (tmpfs, devpts, shm, mqueue): the image's /dev is used as it is. */
function imageDev(s: Spec): void {
  s.mounts = (s.mounts ?? []).filter((m) => !m.destination.startsWith('/dev'));
}

describe('masking and procfs writes redirected (CVE-2025-31133 / CVE-2025-52881 class)', () => {
  let env: SecEnv;
  beforeAll(() => {
    if (ready) env = new SecEnv('mask');
  });
  afterAll(async () => {
    if (env) await env.cleanup();
  });

  maybe('/dev/null a symlink in the image: masked paths are not turned into writable files', async () => {
    const bundle = env.bundle(
      'devnull',
      ['sh', '-c', 'stat -c "%F %t,%T" /proc/keys; echo pwned > /proc/keys; cat /tmp/canary'],
      (s, rootfs) => {
        imageDev(s);
        fs.writeFileSync(path.join(rootfs, 'tmp/canary'), 'canary\n');
        fs.symlinkSync('/tmp/canary', path.join(rootfs, 'dev/null'));
      },
    );
    const o = await env.run(bundle);
    expect(fs.readFileSync(path.join(bundle, 'rootfs/tmp/canary'), 'utf8')).toBe('canary\n');
    // Refused (the runtime checks that /dev/null is the 1:3 character device), or a real mask.
    if (!o.error) expect(o.result?.stdout).toBe('character special file 1,3\ncanary\n');
  });

  maybe('sysctl and oom_score_adj writes go to the real procfs, never to files of the image', async () => {
    const bundle = env.bundle('fakeproc', ['cat', '/proc/sys/net/ipv4/ip_forward', '/proc/self/oom_score_adj'], (s, rootfs) => {
      // No /proc mount: the image's /proc is what the runtime would write through.
      s.mounts = (s.mounts ?? []).filter((m) => m.destination !== '/proc');
      s.linux = { ...s.linux, maskedPaths: [], readonlyPaths: [], sysctl: { 'net.ipv4.ip_forward': '1' } };
      if (s.process) s.process.oomScoreAdj = 500;
      fs.mkdirSync(path.join(rootfs, 'proc/sys/net/ipv4'), { recursive: true });
      fs.mkdirSync(path.join(rootfs, 'proc/self'), { recursive: true });
      fs.writeFileSync(path.join(rootfs, 'proc/sys/net/ipv4/ip_forward'), 'canary\n');
      fs.writeFileSync(path.join(rootfs, 'proc/self/oom_score_adj'), 'canary\n');
    });
    const o = await env.run(bundle);
    expect(fs.readFileSync(path.join(bundle, 'rootfs/proc/sys/net/ipv4/ip_forward'), 'utf8')).toBe('canary\n');
    expect(fs.readFileSync(path.join(bundle, 'rootfs/proc/self/oom_score_adj'), 'utf8')).toBe('canary\n');
    // Refused (no procfs to write through), or applied through a procfs of the runtime's own.
    if (!o.error) expect(o.result).toMatchObject({ exitCode: 0, stdout: 'canary\ncanary\n' });
  });

  maybe('a bind mount over /proc/sys (config) does not redirect a sysctl write into the bind source', async () => {
    const fake = path.join(env.work, 'fake-net');
    fs.mkdirSync(path.join(fake, 'ipv4'), { recursive: true });
    fs.writeFileSync(path.join(fake, 'ipv4/ip_forward'), 'canary\n');
    const bundle = env.bundle('procbind', ['true'], (s) => {
      s.mounts = [...(s.mounts ?? []), { destination: '/proc/sys/net', type: 'bind', source: fake, options: ['rbind'] }];
      s.linux = { ...s.linux, sysctl: { 'net.ipv4.ip_forward': '1' } };
    });
    await env.run(bundle);
    expect(fs.readFileSync(path.join(fake, 'ipv4/ip_forward'), 'utf8')).toBe('canary\n');
  });
});
