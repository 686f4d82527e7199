/**
 * Test helper: a busybox-static rootfs and an OCI bundle around it, in a temp folder. (tools/src/rootfs
 * builds the same for e2e and benchmarks; runtime-core may not import tools.)
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultSpec, type Spec } from '@podkit/oci-spec';

export const BUSYBOX = '/bin/busybox';

let applets: string[] | undefined;

export function makeRootfs(dir: string): void {
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.copyFileSync(BUSYBOX, path.join(dir, 'bin', 'busybox'));
  fs.chmodSync(path.join(dir, 'bin', 'busybox'), 0o755);
  applets ??= execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) fs.symlinkSync('busybox', path.join(dir, 'bin', a));
  fs.writeFileSync(path.join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  fs.writeFileSync(path.join(dir, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
}

export interface TestBundle {
  dir: string;
  rootfs: string;
  write(spec: Spec): void;
  /** A fresh default spec (no terminal) running `args`. */
  spec(args: string[]): Spec;
  cleanup(): void;
}

export function makeBundle(prefix = 'podkit-bundle-'): TestBundle {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const rootfs = path.join(dir, 'rootfs');
  makeRootfs(rootfs);
  return {
    dir,
    rootfs,
    write: (spec) => fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2)),
    spec: (args) => {
      const s = defaultSpec({ args, terminal: false });
      s.root = { path: 'rootfs', readonly: false };
      return s;
    },
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
