/** Test helper: a container in a new user namespace whose root is host uid USERNS_HOST_ID. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Spec } from '@podkit/oci-spec';
import type { TestBundle } from './bundle';

export const USERNS_HOST_ID = 100000;
/** Container ids 0..65535 are host ids 100000.. (uid and gid). */
export const USERNS_MAP = [{ containerID: 0, hostID: USERNS_HOST_ID, size: 65536 }];

/** A new user namespace with USERNS_MAP for uids and gids. */
export function withUserns(s: Spec): void {
  const linux = (s.linux ??= {});
  (linux.namespaces ??= []).push({ type: 'user' });
  linux.uidMappings = USERNS_MAP;
  linux.gidMappings = USERNS_MAP;
}

function chownTree(dir: string, uid: number): void {
  fs.lchownSync(dir, uid, uid);
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) chownTree(p, uid);
    else fs.lchownSync(p, uid, uid);
  }
}

/**
 * Lets the container's root (host uid USERNS_HOST_ID) reach and write the bundle's rootfs, as with
 * runc: the bundle folder becomes 0711 and the rootfs tree is given to that uid.
 */
export function shareBundleWithUserns(bundle: TestBundle): void {
  fs.chmodSync(bundle.dir, 0o711);
  chownTree(bundle.rootfs, USERNS_HOST_ID);
}
