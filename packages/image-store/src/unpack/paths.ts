/**
 * Paths of layer entries, confined to the target root. Entry names are cleaned lexically (a leading
 * `/` or `./` is dropped, `.` and empty components removed) and any `..` component is rejected, so a
 * name can never climb out. Parents are then resolved one component at a time with lstat, never
 * letting the kernel follow a symlink: in a flat target a symlink met on the way is resolved *inside*
 * the root (an absolute target or `..` stops at the root, as openat2's RESOLVE_IN_ROOT does); in an
 * overlay layer directory a symlink parent is refused. Nothing else writes to the target while a layer
 * is applied (it is a private staging directory), so the resolved path stays valid while it is used.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError } from '@podkit/errdefs';

const MAX_SYMLINKS = 40;

function bad(entry: string, reason: string): InvalidArgumentError {
  return new InvalidArgumentError(`layer entry ${JSON.stringify(entry)}: ${reason}`, { details: { field: 'layer.entry', entry } });
}

/** Splits a tar entry name into clean components; rejects `..`, NUL and empty names. */
export function cleanEntryName(name: string, what = name): string[] {
  if (name.includes('\0')) throw bad(what, 'name contains a NUL byte');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw bad(what, "path contains '..' (it would point outside the layer): refused");
  for (const p of parts) if (Buffer.byteLength(p) > 255) throw bad(what, 'a path component is longer than 255 bytes');
  return parts;
}

export interface ResolveOptions {
  /** Follow symlinks inside the root (flat target) or refuse them (overlay layer dir). */
  symlinks: 'in-root' | 'refuse';
  /** Create missing directories on the way (mode 0755), reporting each one created. */
  create?: (relPath: string, hostPath: string) => void | Promise<void>;
}

/**
 * Resolves the directory `components` inside `root` and returns its host path and its path relative
 * to the root (after symlinks were resolved in the root). Every component on the way is a real
 * directory when this returns.
 */
export async function resolveDirInRoot(root: string, components: string[], entry: string, opts: ResolveOptions): Promise<{ host: string; rel: string[] }> {
  const todo = [...components];
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const c = todo.shift();
    if (c === undefined || c === '.' || c === '') continue;
    if (c === '..') {
      // Only reachable through a symlink target: clamp at the root.
      done.pop();
      continue;
    }
    const host = path.join(root, ...done, c);
    const st = fs.lstatSync(host, { throwIfNoEntry: false });
    if (!st) {
      if (!opts.create) throw bad(entry, `parent ${[...done, c].join('/')} does not exist`);
      fs.mkdirSync(host, { mode: 0o755 });
      done.push(c);
      await opts.create(done.join('/'), host);
      continue;
    }
    if (st.isDirectory()) {
      done.push(c);
      continue;
    }
    if (st.isSymbolicLink()) {
      if (opts.symlinks === 'refuse') throw bad(entry, `parent ${[...done, c].join('/')} is a symlink: refused (a layer may not write through a symlink)`);
      if (++links > MAX_SYMLINKS) throw bad(entry, `too many levels of symlinks resolving ${[...done, c].join('/')}`);
      const target = fs.readlinkSync(host);
      const parts = target.split('/');
      if (target.startsWith('/')) done.length = 0;
      todo.unshift(...parts);
      continue;
    }
    throw bad(entry, `parent ${[...done, c].join('/')} is not a directory`);
  }
  return { host: path.join(root, ...done), rel: done };
}
