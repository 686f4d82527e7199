/**
 * Mount targets redirected by symlinks in the rootfs:
 * - runc CVE-2021-30465 (GHSA-c3xm-pvg7-gh7r): a path component of a mount destination is swapped for
 *   a symlink between the runtime's check and its mount(2), so the mount lands outside the rootfs.
 *   Here a racer on the host flips `rootfs/data` between a directory, nothing and a symlink to an
 *   "outside" folder while containers with a bind mount at /data/vol are created.
 * - `/dev` itself a symlink in the image (to an absolute host path, or `../../..`): the /dev tmpfs and
 *   the device nodes must still be made inside the rootfs.
 * The "outside" folder stands for the host: it holds a marker file and must stay exactly as it was,
 * and no mount of the host's namespace may appear under the test's folder.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hostMountsUnder, ready, SecEnv } from './harness';

const maybe = ready ? it : it.skip;
if (!ready) console.warn('security e2e: skipped (needs root and /bin/busybox)');

describe('mount targets redirected by symlinks (CVE-2021-30465 class, /dev a symlink)', () => {
  let env: SecEnv;
  let outside: string;
  let volume: string;

  beforeAll(() => {
    if (!ready) return;
    env = new SecEnv('mnt');
    outside = path.join(env.work, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'secret-marker'), 'host secret\n');
    volume = path.join(env.work, 'volume');
    fs.mkdirSync(volume);
    fs.writeFileSync(path.join(volume, 'volume-file'), 'volume\n');
  });
  afterAll(async () => {
    if (env) await env.cleanup();
  });

  function outsideUntouched(): void {
    expect(fs.readdirSync(outside)).toEqual(['secret-marker']);
    expect(fs.readFileSync(path.join(outside, 'secret-marker'), 'utf8')).toBe('host secret\n');
    expect(hostMountsUnder(env.work)).toEqual([]);
  }

  maybe('a destination through a symlink to a host path (absolute and ../..) is resolved inside the rootfs', async () => {
    for (const [name, target] of [
      ['abs', outside],
      ['rel', `../../../../../../../..${outside}`],
    ] as const) {
      const bundle = env.bundle(`link-${name}`, ['sh', '-c', `cat /data/vol/volume-file; ls ${outside}`], (s, rootfs) => {
        fs.symlinkSync(target, path.join(rootfs, 'data'));
        s.mounts!.push({ destination: '/data/vol', type: 'bind', source: volume, options: ['rbind'] });
      });
      const o = await env.run(bundle);
      // The mount was made at <rootfs><outside>/vol, which the symlink names inside the container.
      expect(o.error).toBeUndefined();
      expect(o.result).toMatchObject({ exitCode: 0, stdout: 'volume\nvol\n' });
      expect(fs.existsSync(path.join(bundle, 'rootfs', outside, 'vol'))).toBe(true);
      outsideUntouched();
    }
  });

  maybe('a destination swapped for a symlink while creating (racer on the host) never lands outside', async () => {
    const bundle = env.bundle('race', ['sh', '-c', `cat /data/vol/volume-file 2>/dev/null; ls ${outside} 2>/dev/null; exit 0`], (s) => {
      s.mounts!.push({ destination: '/data/vol', type: 'bind', source: volume, options: ['rbind'] });
    });
    const rootfs = path.join(bundle, 'rootfs');
    // A busybox loop: data is a directory, then nothing, then a symlink to the outside folder.
    const racer = spawn('/bin/busybox', ['sh', '-c', `cd ${rootfs}; while :; do rm -rf data; mkdir data; rm -rf data; ln -s ${outside} data; done`], {
      stdio: 'ignore',
    });
    const outcomes = { refused: 0, inside: 0, escaped: [] as string[] };
    try {
      for (let i = 0; i < 25; i++) {
        const o = await env.run(bundle);
        if (o.error) outcomes.refused++;
        else if (o.result!.stdout.includes('secret-marker')) outcomes.escaped.push(o.result!.stdout);
        else outcomes.inside++;
      }
    } finally {
      racer.kill('SIGKILL');
      await new Promise((r) => (racer.exitCode !== null || racer.signalCode !== null ? r(null) : racer.once('exit', r)));
    }
    expect(outcomes.escaped).toEqual([]);
    expect(outcomes.inside + outcomes.refused).toBe(25);
    outsideUntouched();
  });

  maybe('/dev a symlink in the image: the /dev tmpfs and the device nodes stay inside the rootfs', async () => {
    for (const [name, target] of [
      ['abs', outside],
      ['rel', `../../../../../../../..${outside}`],
    ] as const) {
      const bundle = env.bundle(`dev-${name}`, ['sh', '-c', 'stat -c "%F %t,%T" /dev/null /dev/zero; ls /dev/pts/ptmx'], (_s, rootfs) => {
        fs.rmSync(path.join(rootfs, 'dev'), { recursive: true });
        fs.symlinkSync(target, path.join(rootfs, 'dev'));
      });
      const o = await env.run(bundle);
      expect(o.error).toBeUndefined();
      expect(o.result).toMatchObject({ exitCode: 0, stdout: 'character special file 1,3\ncharacter special file 1,5\n/dev/pts/ptmx\n' });
      outsideUntouched();
    }
  });
});
