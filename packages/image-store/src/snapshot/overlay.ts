/**
 * The overlay snapshotter: the tutorial's `lower` / `upper` / `work` / `merged`, made durable and shared.
 *
 * Layout under the root:
 *   metadata.json            every snapshot's record (written atomically: temp, fsync, rename, fsync dir)
 *   snapshots/<id>/fs        the snapshot's own files (an overlay upper dir, or a committed layer)
 *   snapshots/<id>/work      overlay's work dir (active snapshots only)
 *
 * Crash safety comes from the order of the steps, so a kill -9 at any instant leaves a state that
 * `open()` repairs:
 *   prepare/view: mkdir the snapshot dir, then write metadata   (a dir without a record is removed on open)
 *   commit:       one metadata write                            (all or nothing)
 *   remove:       write metadata, then delete the dir           (same as above)
 * Records whose directory vanished are dropped on open, with every snapshot built on them, and
 * active snapshots labelled `podkit.io/extract` (unpacks in progress) are removed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
  invalidField,
} from '@podkit/errdefs';
import { pidAlive, writeFileAtomic } from '../fsutil';
import type { MountDescriptor } from './mount-descriptor';
import type { SnapshotInfo, SnapshotKind, Snapshotter, Usage, WalkFilter } from './types';

/**
 * Label that marks an active snapshot as an unpack in progress; its value is the extracting process's
 * pid. Such a snapshot does not survive its process: the next open removes it.
 */
export const EXTRACT_LABEL = 'podkit.io/extract';

interface Record_ {
  id: number;
  kind: SnapshotKind;
  parent?: string;
  labels: Record<string, string>;
  created: string;
  updated: string;
  usage?: Usage;
}

interface MetadataFile {
  version: 1;
  nextId: number;
  snapshots: Record<string, Record_>;
}

/** One layer for `importLayers`. */
export interface LayerImport {
  name: string;
  parent?: string;
  /** The extracted layer (moved into the store). */
  dir: string;
  labels?: Record<string, string>;
  /** The tree's usage, when the caller measured it already (`dirUsage`); else it is measured here. */
  usage?: Usage;
}

export interface RepairReport {
  removedDirs: string[];
  droppedRecords: string[];
}

const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,254}$/;

function checkKey(field: string, key: string): void {
  if (typeof key !== 'string' || !KEY_RE.test(key)) {
    throw invalidField(field, `"${String(key)}" is not a valid snapshot key (1-255 characters of [A-Za-z0-9._:@+=-], not starting with a symbol)`);
  }
}

/** A simple promise queue: one metadata transaction at a time in this process. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}


/**
 * A lock file shared by every process using the same root (podimg, podkitd, the demo): created with
 * O_EXCL and holding the owner's pid; a lock whose owner died (kill -9) is taken over.
 */
async function withFileLock<T>(file: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  // The lock appears with its owner's pid already in it: written to a private file, then link(2)ed to
  // the lock's name, which fails with EEXIST while someone holds it. A kill at any point leaves either
  // no lock or a complete one naming a dead pid (taken over below), never an empty one.
  const mine = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  fs.writeFileSync(mine, String(process.pid), { mode: 0o600 });
  try {
    for (;;) {
      try {
        fs.linkSync(mine, file);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let owner = NaN;
      try {
        owner = Number(fs.readFileSync(file, 'utf8'));
      } catch {
        continue; // released meanwhile
      }
      if (!(owner > 0 && pidAlive(owner))) {
        fs.rmSync(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new UnavailableError(`snapshot metadata is locked by pid ${owner} (${file}) for more than ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    fs.rmSync(mine, { force: true });
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(file, { force: true });
  }
}

export class OverlaySnapshotter implements Snapshotter {
  private readonly mutex = new Mutex();

  private constructor(
    readonly root: string,
    private meta: MetadataFile,
    readonly repaired: RepairReport,
  ) {}

  /** Opens (creating if needed) a snapshotter at `root` and repairs what a crash left behind. */
  static async open(root: string): Promise<OverlaySnapshotter> {
    if (!path.isAbsolute(root)) throw invalidField('root', `"${root}" must be an absolute path`);
    await fs.promises.mkdir(path.join(root, 'snapshots'), { recursive: true, mode: 0o700 });
    const file = path.join(root, 'metadata.json');
    let meta: MetadataFile = { version: 1, nextId: 1, snapshots: {} };
    try {
      const parsed = JSON.parse(await fs.promises.readFile(file, 'utf8')) as MetadataFile;
      if (parsed.version !== 1 || typeof parsed.snapshots !== 'object') {
        throw new InvalidArgumentError(`${file}: unsupported metadata version ${String(parsed.version)}`);
      }
      meta = parsed;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const s = new OverlaySnapshotter(root, meta, { removedDirs: [], droppedRecords: [] });
    await s.txn(() => s.repair());
    return s;
  }

  private dir(id: number): string {
    return path.join(this.root, 'snapshots', String(id));
  }

  private async save(): Promise<void> {
    const file = path.join(this.root, 'metadata.json');
    await writeFileAtomic(file, JSON.stringify(this.meta), 0o600);
    const st = fs.statSync(file);
    this.metaStamp = `${st.ino}:${st.mtimeMs}:${st.size}`;
  }

  private metaStamp = '';

  /** Re-reads metadata.json when another process changed it. */
  private refresh(): void {
    const file = path.join(this.root, 'metadata.json');
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      return;
    }
    const stamp = `${st.ino}:${st.mtimeMs}:${st.size}`;
    if (stamp === this.metaStamp) return;
    this.meta = JSON.parse(fs.readFileSync(file, 'utf8')) as MetadataFile;
    this.metaStamp = stamp;
  }

  /** One metadata transaction: in-process queue, cross-process lock file, fresh metadata. */
  private txn<T>(fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(() =>
      withFileLock(path.join(this.root, 'metadata.lock'), async () => {
        this.refresh();
        return fn();
      }),
    );
  }

  private async repair(): Promise<void> {
    const snaps = this.meta.snapshots;
    let changed = false;
    // Unpacks in progress at the crash: drop their records (their dirs go below).
    for (const [key, r] of Object.entries(snaps)) {
      // The label holds the pid of the process extracting into the snapshot: only a dead one's goes.
      const extractor = Number(r.labels[EXTRACT_LABEL]);
      if (r.kind === 'active' && r.labels[EXTRACT_LABEL] !== undefined && !(extractor > 0 && pidAlive(extractor))) {
        delete snaps[key];
        this.repaired.droppedRecords.push(key);
        changed = true;
      }
    }
    // Records whose directory vanished, and then everything built on a missing parent.
    for (const [key, r] of Object.entries(snaps)) {
      if (!fs.existsSync(path.join(this.dir(r.id), 'fs'))) {
        delete snaps[key];
        this.repaired.droppedRecords.push(key);
        changed = true;
      }
    }
    for (let again = true; again; ) {
      again = false;
      for (const [key, r] of Object.entries(snaps)) {
        if (r.parent !== undefined && snaps[r.parent]?.kind !== 'committed') {
          delete snaps[key];
          this.repaired.droppedRecords.push(key);
          changed = again = true;
        }
      }
    }
    if (changed) await this.save();
    // Private lock files of processes killed while taking the lock.
    for (const name of await fs.promises.readdir(this.root)) {
      const m = /^metadata\.lock\.(\d+)\./.exec(name);
      if (m && !pidAlive(Number(m[1]))) await fs.promises.rm(path.join(this.root, name), { force: true });
    }
    // Layers being extracted by a process that died (those of live processes stay).
    const staging = path.join(this.root, 'staging');
    for (const name of fs.existsSync(staging) ? await fs.promises.readdir(staging) : []) {
      const m = /^layer-(\d+)-/.exec(name);
      if (!m || !pidAlive(Number(m[1]))) {
        await fs.promises.rm(path.join(staging, name), { recursive: true, force: true });
      }
    }
    // Directories that no record owns: a prepare that crashed before its metadata write, or a remove
    // that crashed after it.
    const owned = new Set(Object.values(snaps).map((r) => String(r.id)));
    for (const name of await fs.promises.readdir(path.join(this.root, 'snapshots'))) {
      if (!owned.has(name)) {
        await fs.promises.rm(path.join(this.root, 'snapshots', name), { recursive: true, force: true });
        this.repaired.removedDirs.push(name);
      }
    }
  }

  private get(key: string): Record_ {
    this.refresh();
    const r = this.meta.snapshots[key];
    if (!r) throw new NotFoundError(`snapshot "${key}" not found`, { details: { field: 'key' } });
    return r;
  }

  private info(name: string, r: Record_): SnapshotInfo {
    const out: SnapshotInfo = { name, kind: r.kind, labels: { ...r.labels }, created: r.created, updated: r.updated };
    if (r.parent !== undefined) out.parent = r.parent;
    return out;
  }

  /** The committed chain from `parent` down to the base layer, nearest first. */
  private chain(parent: string | undefined): Record_[] {
    const out: Record_[] = [];
    for (let p = parent; p !== undefined; ) {
      const r = this.get(p);
      out.push(r);
      p = r.parent;
    }
    return out;
  }

  async stat(key: string): Promise<SnapshotInfo> {
    return this.info(key, this.get(key));
  }

  prepare(key: string, parent?: string, opts: { labels?: Record<string, string> } = {}): Promise<MountDescriptor[]> {
    return this.create('active', key, parent, opts.labels);
  }

  view(key: string, parent?: string, opts: { labels?: Record<string, string> } = {}): Promise<MountDescriptor[]> {
    return this.create('view', key, parent, opts.labels);
  }

  private async create(kind: 'active' | 'view', key: string, parent: string | undefined, labels: Record<string, string> = {}): Promise<MountDescriptor[]> {
    checkKey('key', key);
    const p = parent === '' ? undefined : parent;
    if (p !== undefined) checkKey('parent', p);
    return this.txn(async () => {
      if (this.meta.snapshots[key]) throw new AlreadyExistsError(`snapshot "${key}" already exists`, { details: { field: 'key' } });
      if (p !== undefined) {
        const pr = this.meta.snapshots[p];
        if (!pr) throw new NotFoundError(`parent snapshot "${p}" not found`, { details: { field: 'parent' } });
        if (pr.kind !== 'committed') {
          throw new FailedPreconditionError(`parent snapshot "${p}" is ${pr.kind}, not committed`, { details: { field: 'parent' } });
        }
      }
      const id = this.meta.nextId++;
      const dir = this.dir(id);
      await fs.promises.rm(dir, { recursive: true, force: true });
      await fs.promises.mkdir(path.join(dir, 'fs'), { recursive: true, mode: 0o755 });
      if (kind === 'active' && p !== undefined) await fs.promises.mkdir(path.join(dir, 'work'), { mode: 0o700 });
      const now = new Date().toISOString();
      const rec: Record_ = { id, kind, labels: { ...labels }, created: now, updated: now };
      if (p !== undefined) rec.parent = p;
      this.meta.snapshots[key] = rec;
      try {
        await this.save();
      } catch (err) {
        delete this.meta.snapshots[key];
        await fs.promises.rm(dir, { recursive: true, force: true });
        throw err;
      }
      return this.mountsOf(rec);
    });
  }

  /**
   * Adds an already-extracted layer directory as a committed snapshot named `name` on `parent`: the
   * directory is moved (renamed, so it must be on the same filesystem; see `stagingDir()`) into the store.
   * This lets a pull extract layers in parallel while their bytes arrive and commit them in chain order.
   * Crash safety: the rename comes before the metadata write, and a directory no record owns is removed on open.
   */
  async importLayer(name: string, parent: string | undefined, dir: string, opts: { labels?: Record<string, string>; usage?: Usage } = {}): Promise<SnapshotInfo> {
    checkKey('name', name);
    if (parent !== undefined && parent !== '') checkKey('parent', parent);
    const [info] = await this.importLayers([{ name, ...(parent !== undefined ? { parent } : {}), dir, ...opts }], { existing: 'fail' });
    return info as SnapshotInfo;
  }

  /**
   * `importLayer` for several layers in one metadata transaction (one lock, one durable write), in
   * order: an item's parent may be an earlier item. With `existing: 'skip'` (the default) a name that
   * exists already is left alone and its result is undefined (its directory stays with the caller);
   * with `'fail'` it is an AlreadyExists error. On any error nothing of the batch is committed and the
   * directories moved so far are removed.
   */
  async importLayers(items: readonly LayerImport[], opts: { existing?: 'skip' | 'fail' } = {}): Promise<Array<SnapshotInfo | undefined>> {
    items.forEach((it, i) => {
      checkKey(`layers[${i}].name`, it.name);
      if (it.parent !== undefined && it.parent !== '') checkKey(`layers[${i}].parent`, it.parent);
    });
    return this.txn(async () => {
      const added: Array<{ name: string; target: string }> = [];
      const out: Array<SnapshotInfo | undefined> = [];
      try {
        for (const it of items) {
          const p = it.parent === '' ? undefined : it.parent;
          if (this.meta.snapshots[it.name]) {
            if (opts.existing === 'fail') throw new AlreadyExistsError(`snapshot "${it.name}" already exists`, { details: { field: 'name' } });
            out.push(undefined);
            continue;
          }
          if (p !== undefined && this.meta.snapshots[p]?.kind !== 'committed') {
            throw new NotFoundError(`parent snapshot "${p}" not found or not committed`, { details: { field: 'parent' } });
          }
          const id = this.meta.nextId++;
          const target = this.dir(id);
          await fs.promises.mkdir(target, { mode: 0o755 });
          try {
            await fs.promises.rename(it.dir, path.join(target, 'fs'));
          } catch (err) {
            await fs.promises.rm(target, { recursive: true, force: true });
            throw err;
          }
          const now = new Date().toISOString();
          const usage = it.usage ?? (await dirUsage(path.join(target, 'fs')));
          const rec: Record_ = { id, kind: 'committed', labels: { ...(it.labels ?? {}) }, created: now, updated: now, usage: { ...usage } };
          if (p !== undefined) rec.parent = p;
          this.meta.snapshots[it.name] = rec;
          added.push({ name: it.name, target });
          out.push(this.info(it.name, rec));
        }
        if (added.length > 0) await this.save();
      } catch (err) {
        for (const a of added) {
          delete this.meta.snapshots[a.name];
          await fs.promises.rm(a.target, { recursive: true, force: true });
        }
        throw err;
      }
      return out;
    });
  }

  /** A fresh empty directory on the store's filesystem, for extracting a layer before `importLayer`. */
  async stagingDir(): Promise<string> {
    const base = path.join(this.root, 'staging');
    await fs.promises.mkdir(base, { recursive: true, mode: 0o700 });
    return fs.promises.mkdtemp(path.join(base, `layer-${process.pid}-`));
  }

  /** The directory holding a snapshot's own files (a committed layer's files, an active one's upper dir). */
  fsDir(key: string): string {
    return path.join(this.dir(this.get(key).id), 'fs');
  }

  /** True when a snapshot with this key or name exists. */
  has(key: string): boolean {
    this.refresh();
    return this.meta.snapshots[key] !== undefined;
  }

  async mounts(key: string): Promise<MountDescriptor[]> {
    const r = this.get(key);
    if (r.kind === 'committed') {
      throw new FailedPreconditionError(`snapshot "${key}" is committed: make a view or an active snapshot of it to mount it`);
    }
    return this.mountsOf(r);
  }

  private mountsOf(r: Record_): MountDescriptor[] {
    const parents = this.chain(r.parent).map((p) => path.join(this.dir(p.id), 'fs'));
    const own = path.join(this.dir(r.id), 'fs');
    if (r.kind === 'active') {
      if (parents.length === 0) return [{ type: 'bind', source: own, options: ['rw', 'rbind'] }];
      return [
        {
          type: 'overlay',
          source: 'overlay',
          options: ['index=off', `workdir=${path.join(this.dir(r.id), 'work')}`, `upperdir=${own}`, `lowerdir=${parents.join(':')}`],
        },
      ];
    }
    // A view: read-only. No parent → its own empty dir; one parent → a read-only bind of it; more → an
    // overlay with lower dirs only (overlayfs is read-only without an upper dir).
    if (parents.length === 0) return [{ type: 'bind', source: own, options: ['ro', 'rbind'] }];
    const [only] = parents;
    if (parents.length === 1 && only !== undefined) return [{ type: 'bind', source: only, options: ['ro', 'rbind'] }];
    return [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${parents.join(':')}`] }];
  }

  /** The directory that holds an active snapshot's own files (the overlay upper dir), for unpacking into. */
  async upperDir(key: string): Promise<string> {
    const r = this.get(key);
    if (r.kind !== 'active') throw new FailedPreconditionError(`snapshot "${key}" is ${r.kind}, not active`);
    return path.join(this.dir(r.id), 'fs');
  }

  async commit(name: string, key: string, opts: { labels?: Record<string, string> } = {}): Promise<SnapshotInfo> {
    checkKey('name', name);
    return this.txn(async () => {
      const r = this.get(key);
      if (r.kind !== 'active') throw new FailedPreconditionError(`snapshot "${key}" is ${r.kind}: only active snapshots can be committed`);
      if (this.meta.snapshots[name]) throw new AlreadyExistsError(`snapshot "${name}" already exists`, { details: { field: 'name' } });
      const usage = await dirUsage(path.join(this.dir(r.id), 'fs'));
      // Overlay's work dir is scratch space; a committed layer keeps only its files.
      await fs.promises.rm(path.join(this.dir(r.id), 'work'), { recursive: true, force: true });
      const labels = { ...r.labels, ...(opts.labels ?? {}) };
      delete labels[EXTRACT_LABEL];
      const rec: Record_ = { ...r, kind: 'committed', labels, updated: new Date().toISOString(), usage };
      delete this.meta.snapshots[key];
      this.meta.snapshots[name] = rec;
      try {
        await this.save();
      } catch (err) {
        delete this.meta.snapshots[name];
        this.meta.snapshots[key] = r;
        throw err;
      }
      return this.info(name, rec);
    });
  }

  remove(key: string): Promise<void> {
    return this.txn(async () => {
      const r = this.get(key);
      const children = Object.entries(this.meta.snapshots).filter(([, c]) => c.parent === key).map(([k]) => k);
      if (children.length > 0) {
        throw new FailedPreconditionError(`snapshot "${key}" has ${children.length} child snapshot(s) (${children.slice(0, 3).join(', ')}): remove them first`);
      }
      delete this.meta.snapshots[key];
      try {
        await this.save();
      } catch (err) {
        this.meta.snapshots[key] = r;
        throw err;
      }
      await fs.promises.rm(this.dir(r.id), { recursive: true, force: true });
    });
  }

  async walk(filter: WalkFilter = {}): Promise<SnapshotInfo[]> {
    this.refresh();
    return Object.entries(this.meta.snapshots)
      .filter(([, r]) => filter.kind === undefined || r.kind === filter.kind)
      .filter(([, r]) => filter.parent === undefined || r.parent === filter.parent)
      .filter(([, r]) => Object.entries(filter.labels ?? {}).every(([k, v]) => r.labels[k] === v))
      .map(([k, r]) => this.info(k, r))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async usage(key: string): Promise<Usage> {
    const r = this.get(key);
    if (r.kind === 'committed' && r.usage) return { ...r.usage };
    return dirUsage(path.join(this.dir(r.id), 'fs'));
  }
}

/**
 * `dirUsage` with synchronous calls, for a tree only this process writes and that is small enough to
 * walk in one go (a freshly extracted layer: one lstat per entry, no thread-pool round trips).
 */
export function dirUsageSync(root: string): Usage {
  const seen = new Set<string>();
  let size = 0;
  let inodes = 0;
  const walk = (dir: string): void => {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, ent.name);
      const st = fs.lstatSync(p, { bigint: true });
      const id = `${st.dev}:${st.ino}`;
      if (!seen.has(id)) {
        seen.add(id);
        inodes++;
        size += Number(st.blocks) * 512;
      }
      if (ent.isDirectory()) walk(p);
    }
  };
  walk(root);
  return { size, inodes };
}

/** Bytes and inodes of a tree, counting each hard-linked inode once (as `du` does). */
export async function dirUsage(root: string): Promise<Usage> {
  const seen = new Set<string>();
  let size = 0;
  let inodes = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const ent of await fs.promises.readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, ent.name);
      const st = await fs.promises.lstat(p, { bigint: true });
      const id = `${st.dev}:${st.ino}`;
      if (!seen.has(id)) {
        seen.add(id);
        inodes++;
        size += Number(st.blocks) * 512;
      }
      if (ent.isDirectory()) await walk(p);
    }
  };
  await walk(root);
  return { size, inodes };
}
