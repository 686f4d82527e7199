/**
 * `podimg unpack`: an image from the store to a runtime bundle, `<dir>/rootfs` (all layers applied
 * flat, whiteouts applied) and `<dir>/config.json` (made from the image config). Everything is built
 * in a staging directory next to `<dir>` and renamed into place at the end, so a failed unpack leaves
 * nothing behind.
 */
import * as crypto from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { AlreadyExistsError, InvalidArgumentError } from '@podkit/errdefs';
import { ImageConfig, Spec, defaultSpec, layerCompression } from '@podkit/oci-spec';
import { exists } from '../fsutil';
import { ImageRecord } from '../images/types';
import { ImageStore } from '../images/store';
import { resolveDirInRoot } from './paths';
import { unpackLayerStream } from './layer';

export interface UnpackResult {
  dir: string;
  layers: number;
  entries: number;
  bytes: number;
}

/** Applies every layer of `record` to `rootfs` (an existing empty directory). */
export async function unpackRootfs(store: ImageStore, record: ImageRecord, rootfs: string): Promise<{ entries: number; bytes: number }> {
  let entries = 0;
  let bytes = 0;
  for (const [i, desc] of record.layers.entries()) {
    const r = await unpackLayerStream(store.layerBlob(desc), layerCompression(desc.mediaType), rootfs, { target: 'flat', expectedDiffId: record.diffIds[i] ?? '' });
    entries += r.entries;
    bytes += r.bytes;
  }
  return { entries, bytes };
}

/** Reads a small file inside the rootfs without following symlinks out of it; undefined if absent. */
async function readInRoot(rootfs: string, rel: string): Promise<string | undefined> {
  const parts = rel.split('/').filter(Boolean);
  try {
    const dir = await resolveDirInRoot(rootfs, parts.slice(0, -1), rel, { symlinks: 'in-root' });
    const file = path.join(dir.host, parts[parts.length - 1] ?? '');
    const st = await fsp.lstat(file);
    if (!st.isFile() || st.size > 4 * 1024 * 1024) return undefined;
    return await fsp.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Resolves the image's `User` ("name", "uid", "uid:gid", "name:group") against the rootfs. */
async function resolveUser(rootfs: string, user: string | undefined): Promise<{ uid: number; gid: number; additionalGids?: number[] }> {
  if (!user) return { uid: 0, gid: 0 };
  const [u, g] = user.split(':', 2) as [string, string | undefined];
  const passwd = ((await readInRoot(rootfs, 'etc/passwd')) ?? '').split('\n').map((l) => l.split(':'));
  const group = ((await readInRoot(rootfs, 'etc/group')) ?? '').split('\n').map((l) => l.split(':'));
  let uid: number;
  let gid: number | undefined;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    const row = passwd.find((p) => p[2] === u);
    if (row) gid = Number(row[3]);
  } else {
    const row = passwd.find((p) => p[0] === u);
    if (!row) throw new InvalidArgumentError(`image config User ${JSON.stringify(user)}: no user ${u} in /etc/passwd of the image`, { details: { field: 'config.User' } });
    uid = Number(row[2]);
    gid = Number(row[3]);
  }
  if (g !== undefined) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const row = group.find((p) => p[0] === g);
      if (!row) throw new InvalidArgumentError(`image config User ${JSON.stringify(user)}: no group ${g} in /etc/group of the image`, { details: { field: 'config.User' } });
      gid = Number(row[2]);
    }
  }
  return { uid, gid: gid ?? 0 };
}

/** An OCI runtime config for the image, as `runc spec` would write it, with the image's process. */
export async function specFromImage(config: ImageConfig, rootfs: string): Promise<Spec> {
  const c = config.config ?? {};
  const args = [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])];
  const spec = defaultSpec({ args: args.length > 0 ? args : ['sh'], terminal: false });
  const proc = spec.process ?? { cwd: '/', user: { uid: 0, gid: 0 } };
  spec.process = proc;
  const env = new Map<string, string>();
  for (const e of [...(proc.env ?? []), ...(c.Env ?? [])]) {
    const eq = e.indexOf('=');
    env.set(eq < 0 ? e : e.slice(0, eq), e);
  }
  proc.env = [...env.values()];
  if (c.WorkingDir) proc.cwd = c.WorkingDir.startsWith('/') ? c.WorkingDir : `/${c.WorkingDir}`;
  proc.user = await resolveUser(rootfs, c.User);
  spec.root = { path: 'rootfs', readonly: false };
  if (c.Labels) spec.annotations = { ...c.Labels };
  return spec;
}

/** Unpacks an image into the bundle directory `dir` (which must not exist). */
export async function unpackBundle(store: ImageStore, refOrId: string, dir: string): Promise<UnpackResult> {
  const record = await store.get(refOrId);
  const target = path.resolve(dir);
  if (await exists(target)) throw new AlreadyExistsError(`unpack: ${target} already exists`, { details: { field: 'dir' } });
  const staging = path.join(path.dirname(target), `.${path.basename(target)}.unpack-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  await fsp.mkdir(staging, { mode: 0o700 });
  try {
    const rootfs = path.join(staging, 'rootfs');
    await fsp.mkdir(rootfs, { mode: 0o755 });
    const stats = await unpackRootfs(store, record, rootfs);
    const spec = await specFromImage(await store.config(record), rootfs);
    await fsp.writeFile(path.join(staging, 'config.json'), `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o644 });
    await fsp.chmod(staging, 0o755);
    await fsp.rename(staging, target);
    return { dir: target, layers: record.layers.length, ...stats };
  } catch (err) {
    await fsp.rm(staging, { recursive: true, force: true });
    throw err;
  }
}
