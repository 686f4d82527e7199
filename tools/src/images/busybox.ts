/**
 * Test images built from Debian's busybox-static (/bin/busybox), as OCI image layouts:
 *
 * - `busybox:gzip` / `busybox:plain`: a base layer (busybox, its applet links, /etc files, /tmp 1777,
 *   a setuid file, a FIFO, a device node, a file with xattrs, long names) and a second layer with a
 *   whiteout (/etc/motd), an opaque directory (/var/opq), a hardlink and an overwritten file.
 * - `multi`: an index for linux/amd64 (the busybox image) and linux/arm64 (a small marker image).
 */
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { TarWriteEntry } from '@podkit/image-store';
import { BuiltImage, OciLayout, tarOf } from './layout';

export const BUSYBOX = '/bin/busybox';
const MTIME = 1_700_000_000;

/** A VFS_CAP_REVISION_2 `security.capability` value granting cap_net_raw (permitted + effective). */
export function netRawCapability(): Buffer {
  const cap = Buffer.alloc(20);
  cap.writeUInt32LE(0x02000001, 0);
  cap.writeUInt32LE(1 << 13, 4);
  return cap;
}

function applets(): string[] {
  const out = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => /^[a-z0-9_.[-]+$/.test(s) && s !== 'busybox');
}

export function baseLayerEntries(): TarWriteEntry[] {
  const dir = (name: string, mode = 0o755): TarWriteEntry => ({ name, type: 'dir', mode, mtime: MTIME });
  const file = (name: string, data: string | Buffer, mode = 0o644, extra: Partial<TarWriteEntry> = {}): TarWriteEntry => ({ name, data, mode, mtime: MTIME, ...extra });
  const entries: TarWriteEntry[] = [
    dir('bin/'),
    file('bin/busybox', fs.readFileSync(BUSYBOX), 0o755),
    // A hard link's header carries its target's mode and mtime: containerd applies them to the shared
    // inode, so a link with 0644 would take busybox's exec bit away.
    ...applets().map((a): TarWriteEntry => ({ name: `bin/${a}`, type: 'hardlink', linkname: 'bin/busybox', mode: 0o755, mtime: MTIME })).slice(0, 40),
    ...applets()
      .slice(40)
      .map((a): TarWriteEntry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox', mtime: MTIME })),
    dir('etc/'),
    file('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n'),
    file('etc/group', 'root:x:0:\nnogroup:x:65534:\napp:x:1000:\n'),
    file('etc/motd', 'welcome to podkit busybox\n'),
    file('etc/hostname', 'busybox\n'),
    dir('home/'),
    { ...dir('home/app/', 0o750), uid: 1000, gid: 1000 },
    { ...file('home/app/.profile', 'export PS1=app$ \n', 0o640), uid: 1000, gid: 1000 },
    dir('root/', 0o700),
    dir('tmp/', 0o1777),
    dir('var/'),
    dir('var/opq/'),
    file('var/opq/lower-file', 'from the lower layer\n'),
    dir('var/opq/lower-dir/'),
    file('var/opq/lower-dir/f', 'x'),
    dir('usr/'),
    dir('usr/local/'),
    dir('usr/local/bin/', 0o2755),
    file('usr/local/bin/suid-tool', '#!/bin/sh\necho suid\n', 0o4755),
    file('usr/local/bin/sgid-tool', '#!/bin/sh\necho sgid\n', 0o2711),
    file('usr/local/bin/cap-tool', '#!/bin/sh\necho cap\n', 0o755, { xattrs: { 'user.podkit.note': 'hello', 'security.capability': netRawCapability() } }),
    dir('dev/'),
    { name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3, mtime: MTIME },
    { name: 'var/fifo', type: 'fifo', mode: 0o620, mtime: MTIME },
    dir('var/deep/'),
    dir(`var/deep/${'long-directory-name-'.repeat(6)}/`),
    file(`var/deep/${'long-directory-name-'.repeat(6)}/${'a-file-with-a-long-name-'.repeat(5)}.txt`, 'long path\n'),
    dir('proc/', 0o555),
    dir('sys/', 0o555),
  ];
  return entries;
}

export function secondLayerEntries(): TarWriteEntry[] {
  return [
    { name: 'etc/', type: 'dir', mode: 0o755, mtime: MTIME + 10 },
    { name: 'etc/.wh.motd', data: '', mtime: MTIME + 10 },
    { name: 'etc/hostname', data: 'podkit\n', mode: 0o644, mtime: MTIME + 10 },
    { name: 'var/', type: 'dir', mode: 0o755, mtime: MTIME + 10 },
    { name: 'var/opq/', type: 'dir', mode: 0o755, mtime: MTIME + 10 },
    { name: 'var/opq/.wh..wh..opq', data: '', mtime: MTIME + 10 },
    { name: 'var/opq/upper-file', data: 'from the upper layer\n', mode: 0o600, uid: 1000, gid: 1000, mtime: MTIME + 10 },
    { name: 'var/opq/upper-link', type: 'hardlink', linkname: 'var/opq/upper-file', mode: 0o600, uid: 1000, gid: 1000, mtime: MTIME + 10 },
    { name: 'var/.wh.fifo', data: '', mtime: MTIME + 10 },
    { name: 'srv/', type: 'dir', mode: 0o755, mtime: MTIME + 10 },
    { name: 'srv/hello.sh', data: '#!/bin/sh\necho hello from podkit\n', mode: 0o755, mtime: MTIME + 10 },
  ];
}

export interface BusyboxLayoutResult {
  dir: string;
  gzip: BuiltImage;
  plain: BuiltImage;
  arm64: BuiltImage;
}

/** Builds the busybox test images into an OCI layout at `dir` (tags: gzip, plain, multi). */
export function buildBusyboxLayout(dir: string): BusyboxLayoutResult {
  const layout = new OciLayout(dir);
  const base = tarOf(baseLayerEntries());
  const second = tarOf(secondLayerEntries());
  const config = { Cmd: ['/bin/sh'], WorkingDir: '/srv', Env: ['PATH=/usr/local/bin:/bin', 'PODKIT=1'] };
  const gzip = layout.addImage([layout.addLayer(base, true), layout.addLayer(second, true)], { os: 'linux', architecture: 'amd64' }, config);
  const plain = layout.addImage([layout.addLayer(base, false), layout.addLayer(second, false)], { os: 'linux', architecture: 'amd64' }, config);
  const arm64 = layout.addImage([layout.addLayer(tarOf([{ name: 'arm64-marker', data: 'arm64\n', mtime: MTIME }]), true)], { os: 'linux', architecture: 'arm64', variant: 'v8' });
  const index = layout.addIndex([
    { image: arm64, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { image: gzip, platform: { os: 'linux', architecture: 'amd64' } },
  ]);
  layout.tag(gzip.manifest, 'gzip');
  layout.tag(plain.manifest, 'plain');
  layout.tag(index, 'multi');
  return { dir, gzip, plain, arm64 };
}

/** Pushes a tag of a layout to a registry with skopeo (plain HTTP). `all` copies a whole index. */
export function skopeoPush(layoutDir: string, tag: string, dest: string, all = false): void {
  execFileSync('skopeo', ['copy', ...(all ? ['--all'] : []), '--dest-tls-verify=false', '--quiet', `oci:${layoutDir}:${tag}`, `docker://${dest}`], { stdio: ['ignore', 'ignore', 'pipe'] });
}
