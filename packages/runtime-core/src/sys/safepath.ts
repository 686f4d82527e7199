/**
 * Paths inside a root (a container rootfs, an image layer): every symlink and `..` is resolved as if
 * the root were `/` (openat2 RESOLVE_IN_ROOT, or an equivalent component walk on kernels without it),
 * so a path never escapes the root.
 */
import { invalidField } from '@podkit/errdefs';
import { loadNative } from './native';
import { native } from './native-errors';

interface SafepathBinding {
  resolveInRoot(opts: { root: string; path: string; create?: 'dir' | 'file'; walk?: boolean }): Promise<string>;
}

export interface ResolveOptions {
  /** Create the path when missing: a directory, or an empty file (its parents as directories). */
  create?: 'dir' | 'file';
  /** `walk` forces the component-by-component resolver (the fallback for kernels without openat2). */
  resolver?: 'auto' | 'walk';
}

/** The host path that `path` names inside `root`. Fails with NotFound when it does not exist (and `create` is unset). */
export async function resolveInRoot(root: string, path: string, opts: ResolveOptions = {}): Promise<string> {
  if (typeof root !== 'string' || !root.startsWith('/')) throw invalidField('root', 'must be an absolute path');
  if (typeof path !== 'string') throw invalidField('path', 'must be a string');
  if (path.includes('\0')) throw invalidField('path', 'must not contain NUL');
  return native(
    loadNative<SafepathBinding>().resolveInRoot({ root, path, create: opts.create, walk: opts.resolver === 'walk' }),
    `resolve ${path} in ${root}`,
  );
}
