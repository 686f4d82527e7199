/**
 * Mounting for runtime-core and the engines: one parser for mount option strings (OCI `mounts[].options`
 * and snapshotters' mount descriptors), `mount`/`unmount`, and `mountAll(descriptors, target)`, which
 * mounts the descriptors a snapshotter returned at a bundle's rootfs (containerd's `mount.All`).
 */
import { invalidField } from '@podkit/errdefs';
import type { MountDescriptor } from '@podkit/oci-spec';
import { loadNative } from './native';
import { native } from './native-errors';
import { mountOverlayFs, overlayNeedsFsconfig } from './overlay';

export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const;

export const MNT_DETACH = 0x2;

/** Options that set a flag (`clear: false`) or clear one (`clear: true`), as in runc's table. */
const FLAG_OPTIONS: Readonly<Record<string, { flag: number; clear: boolean }>> = {
  async: { flag: MS.SYNCHRONOUS, clear: true },
  atime: { flag: MS.NOATIME, clear: true },
  bind: { flag: MS.BIND, clear: false },
  defaults: { flag: 0, clear: false },
  dev: { flag: MS.NODEV, clear: true },
  diratime: { flag: MS.NODIRATIME, clear: true },
  dirsync: { flag: MS.DIRSYNC, clear: false },
  exec: { flag: MS.NOEXEC, clear: true },
  mand: { flag: MS.MANDLOCK, clear: false },
  noatime: { flag: MS.NOATIME, clear: false },
  nodev: { flag: MS.NODEV, clear: false },
  nodiratime: { flag: MS.NODIRATIME, clear: false },
  noexec: { flag: MS.NOEXEC, clear: false },
  nomand: { flag: MS.MANDLOCK, clear: true },
  norelatime: { flag: MS.RELATIME, clear: true },
  nostrictatime: { flag: MS.STRICTATIME, clear: true },
  nosuid: { flag: MS.NOSUID, clear: false },
  nosymfollow: { flag: MS.NOSYMFOLLOW, clear: false },
  symfollow: { flag: MS.NOSYMFOLLOW, clear: true },
  rbind: { flag: MS.BIND | MS.REC, clear: false },
  relatime: { flag: MS.RELATIME, clear: false },
  remount: { flag: MS.REMOUNT, clear: false },
  ro: { flag: MS.RDONLY, clear: false },
  rw: { flag: MS.RDONLY, clear: true },
  strictatime: { flag: MS.STRICTATIME, clear: false },
  suid: { flag: MS.NOSUID, clear: true },
  sync: { flag: MS.SYNCHRONOUS, clear: false },
  lazytime: { flag: MS.LAZYTIME, clear: false },
  nolazytime: { flag: MS.LAZYTIME, clear: true },
  silent: { flag: MS.SILENT, clear: false },
  loud: { flag: MS.SILENT, clear: true },
};

const PROPAGATION_OPTIONS: Readonly<Record<string, number>> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/** Options runc handles itself and never passes to the kernel. */
const RUNTIME_OPTIONS = new Set(['tmpcopyup', 'idmap', 'ridmap']);

export interface ParsedMountOptions {
  flags: number;
  /** Propagation changes, applied one by one after the mount. */
  propagation: number[];
  /** Filesystem-specific options (`mode=755`, `lowerdir=...`, `newinstance`), joined with commas. */
  data: string;
}

/**
 * Parses mount option strings. Flag and propagation names become flags; everything else is
 * filesystem data, as runc does (the set of filesystem options is open-ended). `field` names the
 * options array in error messages.
 */
export function parseMountOptions(options: readonly string[] = [], field = 'options'): ParsedMountOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  options.forEach((opt, i) => {
    if (typeof opt !== 'string' || opt.length === 0) throw invalidField(`${field}/${i}`, 'must be a non-empty string');
    const f = FLAG_OPTIONS[opt];
    if (f) {
      flags = f.clear ? flags & ~f.flag : flags | f.flag;
      return;
    }
    const p = PROPAGATION_OPTIONS[opt];
    if (p !== undefined) {
      propagation.push(p);
      return;
    }
    if (RUNTIME_OPTIONS.has(opt)) throw invalidField(`${field}/${i}`, `mount option "${opt}" is not supported by podkit yet`);
    data.push(opt);
  });
  return { flags, propagation, data: data.join(',') };
}

/** The propagation flags of a `rootfsPropagation` value (`""` → 0). */
export function propagationFlags(value: string, field = 'rootfsPropagation'): number {
  if (value === '') return 0;
  const p = PROPAGATION_OPTIONS[value];
  if (p === undefined) throw invalidField(field, `unknown propagation "${value}" (one of ${Object.keys(PROPAGATION_OPTIONS).join(', ')})`);
  return p;
}

interface MountBinding {
  mount(opts: { source?: string; target: string; fstype?: string; flags?: number; data?: string }): Promise<void>;
  umount(opts: { target: string; flags?: number }): Promise<void>;
}

const binding = (): MountBinding => loadNative<MountBinding>();

export interface MountOptions {
  source?: string;
  target: string;
  fstype?: string;
  /** Option strings, parsed with `parseMountOptions`. */
  options?: readonly string[];
}

/**
 * Mounts `source` at `target`. A bind mount with other flags (`ro`, `nosuid`...) is made in two steps,
 * bind then remount, because the kernel ignores those flags on the bind itself; propagation options
 * are applied afterwards.
 */
export async function mount(opts: MountOptions): Promise<void> {
  const parsed = parseMountOptions(opts.options ?? []);
  const what = `mount ${opts.source ?? opts.fstype ?? ''} at ${opts.target}`;
  const isBind = (parsed.flags & MS.BIND) !== 0 || opts.fstype === 'bind';
  if (isBind) {
    await native(binding().mount({ source: opts.source, target: opts.target, flags: parsed.flags & (MS.BIND | MS.REC) | MS.BIND }), what);
    const extra = parsed.flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
    if (extra !== 0) {
      await native(binding().mount({ target: opts.target, flags: MS.BIND | MS.REMOUNT | extra }), `remount ${opts.target}`);
    }
  } else {
    await native(
      binding().mount({ source: opts.source, target: opts.target, fstype: opts.fstype, flags: parsed.flags, data: parsed.data || undefined }),
      what,
    );
  }
  for (const p of parsed.propagation) {
    await native(binding().mount({ target: opts.target, flags: p }), `set propagation of ${opts.target}`);
  }
}

/** Unmounts `target`; `detach` unmounts lazily (MNT_DETACH), for busy mounts. */
export async function unmount(target: string, opts: { detach?: boolean } = {}): Promise<void> {
  await native(binding().umount({ target, flags: opts.detach ? MNT_DETACH : 0 }), `unmount ${target}`);
}

/**
 * Mounts each descriptor at `target`, in order (containerd's `mount.All`); long overlay option strings
 * through fsconfig (`mountOverlayFs`). On failure the ones already
 * mounted are unmounted again, so the target is left as it was.
 */
export async function mountAll(descriptors: readonly MountDescriptor[], target: string): Promise<void> {
  const done: string[] = [];
  try {
    for (const d of descriptors) {
      const at = d.target ? `${target.replace(/\/+$/, '')}/${d.target.replace(/^\/+/, '')}` : target;
      // An overlay whose options do not fit in mount(2)'s page (120+ layers) goes through fsconfig.
      if (overlayNeedsFsconfig(d)) await mountOverlayFs(d, at);
      else await mount({ source: d.source, target: at, fstype: d.type === 'bind' ? undefined : d.type, options: d.type === 'bind' && !d.options.some((o) => o === 'bind' || o === 'rbind') ? [...d.options, 'bind'] : d.options });
      done.push(at);
    }
  } catch (err) {
    for (const at of done.reverse()) {
      await unmount(at, { detach: true }).catch(() => undefined);
    }
    throw err;
  }
}
