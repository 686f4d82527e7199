/**
 * Recursive mount attributes (mount_setattr AT_RECURSIVE) and idmapped bind mounts (MOUNT_ATTR_IDMAP),
 * checked from inside a busybox container. Needs root.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mount, unmount } from '../sys/mount';
import { describeAsRoot } from '../test-support/priv';
import { suiteEnv } from '../test-support/run';
import { shareBundleWithUserns, withUserns } from '../test-support/userns';

const describeRoot = describeAsRoot('mountattr.priv.spec', 'mounts, namespaces, cgroups');

describeRoot('mount attributes and idmapped mounts (privileged)', () => {
  const env = suiteEnv();
  let dir: string;
  const mounted: string[] = [];
  beforeAll(() => {
    // One test runs in a user namespace: its root (host uid 100000) must reach the rootfs.
    shareBundleWithUserns(env.bundle);
    // Sources live in a 0700 folder: binds reach them through podkit-init's early clone, not by path.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-mountattr-'));
  });
  afterAll(async () => {
    for (const m of mounted.reverse()) await unmount(m, { detach: true }).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('rro makes a submount read-only too, where ro leaves it writable; rnosuid reaches it as well', async () => {
    const src = path.join(dir, 'tree');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    await mount({ source: 'tmpfs', target: path.join(src, 'sub'), fstype: 'tmpfs', options: ['size=1m'] });
    mounted.push(path.join(src, 'sub'));
    const script = [
      'touch /ro/top 2>/dev/null && echo ro-top-writable || echo ro-top-readonly',
      'touch /ro/sub/a 2>/dev/null && echo ro-sub-writable || echo ro-sub-readonly',
      'touch /rro/top 2>/dev/null && echo rro-top-writable || echo rro-top-readonly',
      'touch /rro/sub/b 2>/dev/null && echo rro-sub-writable || echo rro-sub-readonly',
      'grep " /rro/sub " /proc/mounts',
    ].join('; ');
    const r = await env.sh(script, (s) => {
      s.mounts!.push({ destination: '/ro', type: 'bind', source: src, options: ['rbind', 'ro'] });
      s.mounts!.push({ destination: '/rro', type: 'bind', source: src, options: ['rbind', 'rro', 'rnosuid'] });
    });
    expect(r.stderr).toBe('');
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 4)).toEqual(['ro-top-readonly', 'ro-sub-writable', 'rro-top-readonly', 'rro-sub-readonly']);
    const opts = (lines[4] ?? '').split(' ')[3]?.split(',') ?? [];
    expect(opts).toEqual(expect.arrayContaining(['ro', 'nosuid']));
    // The host's mounts keep their attributes.
    fs.writeFileSync(path.join(src, 'sub', 'host-write'), 'ok');
    expect(fs.existsSync(path.join(src, 'sub', 'a'))).toBe(true);
  });

  it('idmaps a bind mount: files of host uid 1000 appear as the mapped uid 2000', async () => {
    const src = path.join(dir, 'owned');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'f'), 'x');
    fs.chownSync(path.join(src, 'f'), 1000, 1000);
    const map = [{ containerID: 1000, hostID: 2000, size: 1 }];
    const r = await env.sh('stat -c %u:%g /idm/f /plain/f', (s) => {
      s.mounts!.push({ destination: '/idm', type: 'bind', source: src, options: ['bind'], uidMappings: map, gidMappings: map });
      s.mounts!.push({ destination: '/plain', type: 'bind', source: src, options: ['bind'] });
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('2000:2000\n1000:1000\n');
    // The source is unchanged.
    expect(fs.statSync(path.join(src, 'f')).uid).toBe(1000);
  });

  it('idmaps with the container user namespace maps (idmap option): host-root files are root inside', async () => {
    const src = path.join(dir, 'rootowned');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'f'), 'x');
    const r = await env.sh('stat -c %u:%g /idm/f /plain/f; touch /idm/made-inside && echo created', (s) => {
      withUserns(s);
      s.mounts!.push({ destination: '/idm', type: 'bind', source: src, options: ['bind', 'idmap'] });
      s.mounts!.push({ destination: '/plain', type: 'bind', source: src, options: ['bind', 'ro'] });
    });
    expect(r.stderr).toBe('');
    // Through the idmapped mount host uid 0 is the container's 0; through a plain bind it is unmapped.
    expect(r.stdout).toBe('0:0\n65534:65534\ncreated\n');
    const st = fs.statSync(path.join(src, 'made-inside'));
    expect([st.uid, st.gid]).toEqual([0, 0]);
  });
});
