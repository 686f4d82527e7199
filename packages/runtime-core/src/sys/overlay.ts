/**
 * Mounting a snapshotter's overlay descriptor. mount(2) takes its options as one page, so an image with
 * many layers (120+) cannot be mounted with a `lowerdir=a:b:c…` string; then the new mount API is used,
 * with one `lowerdir+` value per layer (Linux 6.8+). Short option strings take the classic path.
 */
import { FailedPreconditionError, fromErrno, invalidField } from '@podkit/errdefs';
import type { MountDescriptor } from '@podkit/oci-spec';
import { loadNative } from './native';

/** mount(2)'s limit for the data argument, including its terminating NUL. */
export const MOUNT_DATA_MAX = 4095;

interface FsMountBinding {
  fsMount(opts: { fstype: string; source?: string; target: string; params: Array<[string, string | null]>; readonly?: boolean }): Promise<void>;
}

/** The fsconfig parameters for an overlay descriptor: `lowerdir=a:b` becomes `lowerdir+` a, `lowerdir+` b. */
export function overlayParams(options: readonly string[]): { params: Array<[string, string | null]>; readonly: boolean } {
  const params: Array<[string, string | null]> = [];
  let readonly = false;
  options.forEach((opt, i) => {
    const eq = opt.indexOf('=');
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? null : opt.slice(eq + 1);
    if (key === 'ro') readonly = true;
    else if (key === 'rw') readonly = false;
    else if (key === 'lowerdir') {
      if (!value) throw invalidField(`options/${i}`, 'lowerdir needs at least one directory');
      for (const dir of value.split(':')) {
        if (!dir.startsWith('/')) throw invalidField(`options/${i}`, `lower dir "${dir}" must be an absolute path`);
        params.push(['lowerdir+', dir]);
      }
    } else params.push([key, value]);
  });
  return { params, readonly };
}

/**
 * Mounts an overlay descriptor at `target` through fsconfig. Use it for any overlay; `mountAll` picks it
 * automatically when the option string would not fit in a page.
 */
export async function mountOverlayFs(desc: MountDescriptor, target: string): Promise<void> {
  if (desc.type !== 'overlay') throw invalidField('type', `"${desc.type}" is not an overlay mount`);
  const { params, readonly } = overlayParams(desc.options);
  try {
    await loadNative<FsMountBinding>().fsMount({ fstype: 'overlay', source: desc.source || 'overlay', target, params, readonly });
  } catch (err) {
    const e = err as { syscall?: string; errno?: string; nativeMessage?: string; message?: string };
    if (typeof e.errno === 'string') {
      if (e.errno === 'EINVAL' && e.nativeMessage?.startsWith('lowerdir+')) {
        throw new FailedPreconditionError(`mount overlay at ${target}: this kernel has no "lowerdir+" (Linux 6.8+ is needed for ${params.length} option values)`, {
          cause: err,
        });
      }
      throw fromErrno({ syscall: e.syscall ?? 'fsMount', errno: e.errno, message: e.nativeMessage ?? '' }, `mount overlay at ${target}`, err);
    }
    throw err;
  }
}

/** True when the options, joined as mount(2) data, exceed a page. */
export function overlayNeedsFsconfig(desc: MountDescriptor): boolean {
  return desc.type === 'overlay' && Buffer.byteLength(desc.options.filter((o) => o !== 'ro' && o !== 'rw').join(',')) > MOUNT_DATA_MAX;
}
