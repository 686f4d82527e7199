/**
 * Builds a busybox-static rootfs and OCI bundles around it, for runtime tests and benchmarks:
 * /bin/busybox (Debian's busybox-static) with a symlink per applet, /etc/passwd and /etc/group, and
 * the empty mount points /proc /sys /dev /tmp. No image, no network.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultSpec, type Spec } from '@podkit/oci-spec';

export const BUSYBOX = '/bin/busybox';

export function busyboxAvailable(): boolean {
  try {
    fs.accessSync(BUSYBOX, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

let appletCache: string[] | undefined;

/** The applets of the host's busybox (`busybox --list`), without `busybox` itself. */
export function busyboxApplets(): string[] {
  appletCache ??= execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => a !== '' && a !== 'busybox' && !a.includes('/'));
  return appletCache;
}

/** Fills `dir` (created if needed) with a busybox rootfs. */
export function buildBusyboxRootfs(dir: string): void {
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'home']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
  const bin = path.join(dir, 'bin', 'busybox');
  fs.copyFileSync(BUSYBOX, bin);
  fs.chmodSync(bin, 0o755);
  for (const applet of busyboxApplets()) {
    const link = path.join(dir, 'bin', applet);
    if (!fs.existsSync(link)) fs.symlinkSync('busybox', link);
  }
  fs.writeFileSync(
    path.join(dir, 'etc', 'passwd'),
    'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/:/bin/false\nuser:x:1000:1000:user:/home:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n',
  );
  fs.writeFileSync(path.join(dir, 'etc', 'group'), 'root:x:0:\ndaemon:x:1:\ntty:x:5:\nuser:x:1000:\nnogroup:x:65534:\n');
  fs.writeFileSync(path.join(dir, 'etc', 'hostname'), 'busybox\n');
}

export interface BundleOptions {
  /** The process's args (default `["sh"]`). */
  args?: string[];
  /** Changes to the default spec before it is written. */
  mutate?: (spec: Spec) => void;
}

/**
 * Writes an OCI bundle at `dir`: `rootfs/` (busybox) and `config.json` (runc's default config without a
 * terminal and with a writable root, then `mutate`). Returns the spec written.
 */
export function buildBusyboxBundle(dir: string, opts: BundleOptions = {}): Spec {
  buildBusyboxRootfs(path.join(dir, 'rootfs'));
  const spec = defaultSpec({ args: opts.args ?? ['sh'], terminal: false });
  spec.root = { path: 'rootfs', readonly: false };
  opts.mutate?.(spec);
  writeSpec(dir, spec);
  return spec;
}

export function writeSpec(bundle: string, spec: Spec): void {
  fs.writeFileSync(path.join(bundle, 'config.json'), `${JSON.stringify(spec, null, 2)}\n`);
}
