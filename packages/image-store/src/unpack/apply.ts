/**
 * Applies one layer (a tar stream) to a target directory.
 *
 * - `flat`: the layer is applied on top of what is there; whiteouts remove the named entry, an opaque
 *   marker empties its directory of everything lower layers put there (entries of this same layer
 *   survive, whatever their order in the tar).
 * - `overlay`: the target is one layer's own directory for overlayfs: whiteouts become character
 *   devices 0/0 and opaque markers set `trusted.overlay.opaque=y`.
 *
 * Every entry's path is confined to the target (see paths.ts); a hardlink may only point at a path
 * inside the target; `trusted.overlay.*` attributes in the tar are dropped (they would let a layer
 * steer overlayfs: redirect, metacopy). Directory modes and times are set after the last entry.
 *
 * File-system calls here are synchronous on purpose: each is one short syscall on a private staging
 * directory (open, write of one decompressed chunk, chown, chmod, utimes), and a promise round trip
 * through the libuv pool per call cost more than the call itself (measured: about 3x the main-thread
 * time of a 200 MiB pull). The event loop still turns between chunks of the layer stream. The one
 * exception is a regular file's data in large chunks (see ASYNC_WRITE_MIN).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError, toPodkitError } from '@podkit/errdefs';
import { mknod, setXattr } from '@podkit/runtime-core/sys';
import { readTar, readTarFrom, TarBody, TarByteSource } from '../tar/reader';
import { TarHeader, TarLimits } from '../tar/types';
import { cleanEntryName, resolveDirInRoot } from './paths';

export type LayerTarget = 'flat' | 'overlay';

export interface ApplyOptions {
  target: LayerTarget;
  /** Set owners from the tar (default: when running as root). */
  chown?: boolean;
  limits?: Partial<TarLimits>;
}

export interface ApplyStats {
  entries: number;
  /** Bytes of regular-file content written. */
  bytes: number;
  whiteouts: number;
}

const WH_PREFIX = '.wh.';
const WH_OPAQUE = '.wh..wh..opq';
const WH_META = '.wh..wh.';

/**
 * File data chunks at least this large are written through the thread pool: copying them into the page
 * cache is the biggest single cost of an unpack, and on the main thread it would stall the hashing
 * and tar parsing of every layer. Smaller ones cost less than the round trip and are written here.
 */
const ASYNC_WRITE_MIN = 64 * 1024;

/** Writes all of `buf` at the file position of `fd`, in the thread pool. */
function writeAll(fd: number, buf: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (off: number): void => {
      fs.write(fd, buf, off, buf.length - off, null, (err, n) => {
        if (err) reject(err);
        else if (off + n < buf.length) step(off + n);
        else resolve();
      });
    };
    step(0);
  });
}

function bad(entry: string, reason: string): InvalidArgumentError {
  return new InvalidArgumentError(`layer entry ${JSON.stringify(entry)}: ${reason}`, { details: { field: 'layer.entry', entry } });
}

interface DeferredDir {
  host: string;
  mode: number;
  mtime: number;
}

class LayerApplier {
  readonly stats: ApplyStats = { entries: 0, bytes: 0, whiteouts: 0 };
  /** Paths (relative, resolved) this layer created: whiteouts and opaque markers spare them. */
  private readonly mine = new Set<string>();
  /**
   * Directories this layer created: they started empty, and whatever was created in them since is in
   * `mine` or `occupied`, so a name in one of them that is in neither does not exist (no lstat needed).
   * Cleared on any removal. A wrong guess could only make an exclusive create fail (EEXIST): every
   * create here is exclusive (O_EXCL, mkdir, symlink, link, mknod), none writes through what is there.
   */
  private readonly fresh = new Set<string>();
  /** Whiteout devices this layer created (overlay target; not entries of `mine`). */
  private readonly occupied = new Set<string>();
  private readonly dirs = new Map<string, DeferredDir>();
  private readonly resolved = new Map<string, { host: string; rel: string[] }>();
  private readonly chown: boolean;

  constructor(
    private readonly root: string,
    private readonly opts: ApplyOptions,
  ) {
    this.chown = opts.chown ?? process.getuid?.() === 0;
  }

  /**
   * Resolves an entry's parent directory. Results are cached: only this applier changes the target
   * while a layer is applied, and it forgets the cache whenever it removes anything (the only way a
   * resolved directory can stop being one).
   */
  private async parent(entry: string, comps: string[]): Promise<{ host: string; rel: string[] }> {
    const key = comps.join('/');
    const hit = this.resolved.get(key);
    if (hit) return hit;
    const r = await resolveDirInRoot(this.root, comps, entry, {
      symlinks: this.opts.target === 'flat' ? 'in-root' : 'refuse',
      create: (rel) => {
        this.mine.add(rel);
        this.fresh.add(rel);
      },
    });
    this.resolved.set(key, r);
    return r;
  }

  private async remove(host: string): Promise<void> {
    this.resolved.clear();
    this.fresh.clear();
    fs.rmSync(host, { recursive: true, force: true });
  }

  async entry(h: TarHeader, body: TarBody): Promise<void> {
    this.stats.entries++;
    const comps = cleanEntryName(h.name);
    if (comps.length === 0) {
      // The root itself ("./"): take its mode and time.
      if (h.type !== 'dir') throw bad(h.name, 'the layer root must be a directory');
      this.dirs.set('', { host: this.root, mode: h.mode, mtime: h.mtime });
      await this.own(this.root, h);
      return;
    }
    const base = comps[comps.length - 1] ?? '';
    const parent = await this.parent(h.name, comps.slice(0, -1));
    if (base.startsWith(WH_PREFIX)) return this.whiteout(h, parent, base);

    const rel = [...parent.rel, base].join('/');
    const host = path.join(parent.host, base);
    const known = this.fresh.has(parent.rel.join('/')) && !this.mine.has(rel) && !this.occupied.has(rel);
    const existing = known ? undefined : fs.lstatSync(host, { throwIfNoEntry: false });
    if (existing) {
      if (h.type === 'dir' && existing.isDirectory()) {
        this.mine.add(rel);
        this.dirs.set(rel, { host, mode: h.mode, mtime: h.mtime });
        await this.own(host, h);
        await this.xattrs(host, h);
        return;
      }
      await this.remove(host);
    }
    this.mine.add(rel);
    switch (h.type) {
      case 'dir':
        fs.mkdirSync(host, { mode: 0o700 });
        this.fresh.add(rel);
        this.dirs.set(rel, { host, mode: h.mode, mtime: h.mtime });
        await this.own(host, h);
        await this.xattrs(host, h);
        return;
      case 'file':
        // Owner, mode and times go through the open descriptor (see writeFile); xattrs by path.
        await this.writeFile(host, body, h);
        await this.xattrs(host, h);
        return;
      case 'symlink':
        if (h.linkname === '') throw bad(h.name, 'symlink with an empty target');
        fs.symlinkSync(h.linkname, host);
        break;
      case 'hardlink':
        await this.hardlink(h, host);
        return; // a hardlink shares the target's inode: no metadata of its own
      case 'char':
      case 'block':
        await mknod(host, { kind: h.type, mode: 0o600, major: h.devmajor, minor: h.devminor });
        break;
      case 'fifo':
        await mknod(host, { kind: 'fifo', mode: 0o600 });
        break;
    }
    await this.own(host, h);
    if (h.type !== 'symlink') fs.chmodSync(host, h.mode);
    await this.xattrs(host, h);
    fs.lutimesSync(host, h.mtime, h.mtime);
  }

  /**
   * Creates the file (O_EXCL|O_NOFOLLOW: never through anything already there), writes its body, and
   * sets owner, mode (after the owner: chown clears set-id bits) and times on the descriptor, not the
   * path. The open is synchronous too: through the thread pool it cost two thread wake-ups per file
   * (measured: 0.3 s of a 200 MiB pull's main thread, more than the opens themselves).
   */
  private async writeFile(host: string, body: TarBody, h: TarHeader): Promise<void> {
    if (body.toFile) {
      // The native layer pipe creates the file the same way (O_EXCL|O_NOFOLLOW, 0600), writes the
      // body from its own buffer and sets owner, mode and times on the descriptor, off this thread.
      await body.toFile({ path: host, chown: this.chown, uid: h.uid, gid: h.gid, mode: h.mode, mtime: h.mtime });
      this.stats.bytes += h.size;
      return;
    }
    const fd = fs.openSync(host, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    let written = 0;
    try {
      for await (const chunk of body) {
        if (chunk.length >= ASYNC_WRITE_MIN) await writeAll(fd, chunk);
        else {
          let off = 0;
          while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
        }
        written += chunk.length;
      }
      if (written !== h.size) throw bad(h.name, `body has ${written} bytes, header says ${h.size}`);
      if (this.chown) fs.fchownSync(fd, h.uid, h.gid);
      fs.fchmodSync(fd, h.mode);
      fs.futimesSync(fd, h.mtime, h.mtime);
    } finally {
      fs.closeSync(fd);
    }
    this.stats.bytes += written;
  }

  private async hardlink(h: TarHeader, host: string): Promise<void> {
    const comps = cleanEntryName(h.linkname, `${h.name} -> ${h.linkname}`);
    if (comps.length === 0) throw bad(h.name, 'hardlink to the layer root');
    const parent = await resolveDirInRoot(this.root, comps.slice(0, -1), h.name, { symlinks: this.opts.target === 'flat' ? 'in-root' : 'refuse' }).catch((err: unknown) => {
      throw bad(h.name, `hardlink target ${JSON.stringify(h.linkname)} is not inside the layer: ${(err as Error).message}`);
    });
    const src = path.join(parent.host, comps[comps.length - 1] ?? '');
    const st = fs.lstatSync(src, { throwIfNoEntry: false });
    if (!st) throw bad(h.name, `hardlink target ${JSON.stringify(h.linkname)} does not exist in the layer`);
    if (st.isDirectory()) throw bad(h.name, `hardlink target ${JSON.stringify(h.linkname)} is a directory`);
    // link(2) does not follow a symlink source: the new name shares the symlink's inode, as in tar.
    fs.linkSync(src, host);
  }

  private async whiteout(h: TarHeader, parent: { host: string; rel: string[] }, base: string): Promise<void> {
    this.stats.whiteouts++;
    if (base === WH_OPAQUE) {
      if (this.opts.target === 'overlay') {
        await setXattr(parent.host, 'trusted.overlay.opaque', 'y');
      } else {
        await this.emptyOpaque(parent.host, parent.rel.join('/'));
      }
      return;
    }
    if (base.startsWith(WH_META)) return; // other AUFS metadata (.wh..wh.plnk, ...): not content
    const name = base.slice(WH_PREFIX.length);
    if (name === '' || name === '.' || name === '..') throw bad(h.name, 'whiteout of an invalid name');
    const host = path.join(parent.host, name);
    const rel = [...parent.rel, name].join('/');
    if (this.opts.target === 'overlay') {
      const existing = fs.lstatSync(host, { throwIfNoEntry: false });
      if (existing) await this.remove(host);
      await mknod(host, { kind: 'char', mode: 0, major: 0, minor: 0 });
      this.occupied.add(rel);
      if (this.chown) fs.lchownSync(host, h.uid, h.gid);
      return;
    }
    if (this.mine.has(rel)) return; // a whiteout hides lower layers only
    await this.remove(host);
  }

  /** Removes what lower layers put under `dirHost`, keeping this layer's own entries. */
  private async emptyOpaque(dirHost: string, dirRel: string): Promise<void> {
    const mineUnder = (rel: string): boolean => {
      const prefix = `${rel}/`;
      for (const m of this.mine) if (m.startsWith(prefix)) return true;
      return false;
    };
    const walk = async (host: string, rel: string): Promise<void> => {
      for (const d of fs.readdirSync(host, { withFileTypes: true })) {
        const childRel = rel === '' ? d.name : `${rel}/${d.name}`;
        const childHost = path.join(host, d.name);
        const keep = this.mine.has(childRel) || mineUnder(childRel);
        if (!keep) await this.remove(childHost);
        // A kept directory (this layer's, or holding this layer's entries) loses the lower content below it.
        else if (d.isDirectory()) await walk(childHost, childRel);
      }
    };
    await walk(dirHost, dirRel);
  }

  private async own(host: string, h: TarHeader): Promise<void> {
    if (this.chown) fs.lchownSync(host, h.uid, h.gid);
  }

  private async xattrs(host: string, h: TarHeader): Promise<void> {
    for (const [name, value] of h.xattrs) {
      if (name.startsWith('trusted.overlay.')) continue;
      try {
        await setXattr(host, name, value);
      } catch (err) {
        const errno = (err as { details?: { errno?: string } }).details?.errno;
        // A file system without xattr support, or user.* on a symlink: skip, as tar does.
        if (errno === 'ENOTSUP' || errno === 'EOPNOTSUPP' || (errno === 'EPERM' && h.type === 'symlink')) continue;
        throw err;
      }
    }
  }

  /** Sets directory modes and times, deepest first (writing children changes a directory's mtime). */
  async finish(): Promise<void> {
    const dirs = [...this.dirs.entries()].sort((a, b) => b[0].split('/').length - a[0].split('/').length);
    for (const [rel, d] of dirs) {
      // A later entry may have replaced this directory or one of its parents (with a symlink, say):
      // re-resolve it without following anything, and skip it if it is no longer a plain directory.
      const comps = rel === '' ? [] : rel.split('/');
      const ok = await resolveDirInRoot(this.root, comps, rel, { symlinks: 'refuse' }).then(
        (r) => r.host === d.host,
        () => false,
      );
      if (!ok) continue;
      fs.chmodSync(d.host, d.mode);
      fs.utimesSync(d.host, d.mtime, d.mtime);
    }
  }
}

/** Applies the tar stream `tar` (chunks, or a TarByteSource such as the native pipe's) to `root` (an existing directory). */
export async function applyLayer(root: string, tar: AsyncIterable<Buffer | Uint8Array> | TarByteSource, opts: ApplyOptions): Promise<ApplyStats> {
  const applier = new LayerApplier(root, opts);
  const entries = Symbol.asyncIterator in tar ? readTar(tar, opts.limits) : readTarFrom(tar, opts.limits);
  for await (const e of entries) {
    try {
      await applier.entry(e.header, e.body);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw err;
      throw toPodkitError(err, `layer entry ${JSON.stringify(e.header.name)}`);
    }
  }
  await applier.finish();
  return applier.stats;
}
