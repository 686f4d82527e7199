/**
 * The on-disk state of containers: `<root>/<id>/state.json` (written atomically: temp file, then
 * rename) and `<root>/<id>/exec.fifo` while the container is created. The record holds the init's pid,
 * its start time and its pidfd inode; every verb re-checks them, so a reused pid is never taken for the
 * container.
 *
 * Runtime state is atomic but not fsynced (as runc's state.json): fsync guards against a machine
 * crash, and a machine crash ends every process a record describes. After a reboot a record that
 * survived reads as "stopped" (its pid and start time no longer match) and a torn one (a crash between
 * write and writeback) as unreadable (DataLoss); `delete --force` removes either. A process killed at
 * any instant leaves the page cache intact: readers see the old record or the new one, never a part.
 * On this machine's disk an fsynced write costs 9 ms (median; 30 ms under load), more than the rest
 * of `create`. Metadata meant to outlive a reboot (image store, podkitd) stays durable.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AlreadyExistsError, DataLossError, invalidField, NotFoundError, toPodkitError } from '@podkit/errdefs';
import type { Hooks, LinuxSeccomp, Process } from '@podkit/oci-spec';
import { backendOf } from '../cgroups/backend';
import { pidfdInode, pidfdOpen, readProcStat } from '../sys/process';
import type { Status } from './state';

export const DEFAULT_ROOT = '/run/podkit/runtime';
export const STATE_VERSION = 1;

export interface StateRecord {
  version: number;
  id: string;
  bundle: string;
  rootfs: string;
  /** 0 until the init exists. */
  pid: number;
  /** /proc/<pid>/stat field 22. */
  startTime: string;
  /** The pidfd's inode (pidfs): unique per process. */
  pidfdInode: string;
  created: string;
  annotations?: Record<string, string>;
  /** The container's cgroup per hierarchy. */
  cgroupPaths: Record<string, string>;
  /** OCI namespace types the container has (created or joined). */
  namespaces: string[];
  /** Whether the init has its own pid namespace (if not, killing it does not kill the others). */
  ownPidNamespace: boolean;
  /** The config's process, the base of `exec` with bare args. */
  process: Process;
  /** The container's seccomp profile, loaded for `exec` processes too (as runc does). */
  seccomp?: LinuxSeccomp;
  /** The hooks run after `create` returned: poststart by `start`, poststop by `delete`. */
  hooks?: Pick<Hooks, 'poststart' | 'poststop'>;
  /** linux.personality as the personality(2) value, set for `exec` processes too (as runc does). */
  personality?: number;
  /**
   * (rdt) Intel RDT: the CLOS group folder the container's processes are in (exec joins it too) and
   * whether create made it; delete removes only a group it made, never one it joined by closID.
   */
  intelRdt?: { dir: string; created: boolean };
}

const ID_RE = /^[\w+\-.]+$/;

export function checkId(id: string): void {
  if (typeof id !== 'string' || id.length === 0) throw invalidField('id', 'container id must not be empty');
  if (!ID_RE.test(id) || id === '.' || id === '..') throw invalidField('id', `invalid container id "${id}": use letters, digits, "_", "+", "-" and "."`);
  if (id.length > 1024) throw invalidField('id', 'container id is too long');
}

/**
 * Writes a file atomically: temp file, fsync, rename, fsync the folder. `durable: false` keeps the
 * rename (readers never see a torn file) but skips both fsyncs, for transient records.
 */
export function writeFileAtomic(file: string, data: string, mode = 0o600, durable = true): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w', mode);
  try {
    fs.writeSync(fd, data);
    if (durable) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  if (!durable) return;
  const dfd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

let clockBase: { wall: number; mono: bigint } | undefined;

/**
 * The wall clock in milliseconds with microsecond digits: Date.now() for the time, the monotonic clock
 * for the fraction, re-anchored whenever the two drift apart by a millisecond (`performance` would do,
 * but loading perf_hooks costs podrun's start-up about 1 ms).
 */
function nowMs(): number {
  const wall = Date.now();
  const mono = process.hrtime.bigint();
  if (!clockBase || Math.abs(clockBase.wall + Number(mono - clockBase.mono) / 1e6 - wall) >= 1) clockBase = { wall, mono };
  return clockBase.wall + Number(mono - clockBase.mono) / 1e6;
}

/**
 * Now in RFC 3339 with nanoseconds (`2006-01-02T15:04:05.999999999Z`, as Go's RFC3339Nano and runc's
 * `created`). The clock has microsecond resolution here; the last three digits are zero.
 */
export function rfc3339Nano(ms: number = nowMs()): string {
  const whole = Math.floor(ms);
  const micros = Math.min(999, Math.floor((ms - whole) * 1000));
  return `${new Date(whole).toISOString().slice(0, -1)}${String(micros).padStart(3, '0')}000Z`;
}

export class StateStore {
  constructor(readonly root: string = DEFAULT_ROOT) {}

  dir(id: string): string {
    return path.join(this.root, id);
  }
  fifo(id: string): string {
    return path.join(this.dir(id), 'exec.fifo');
  }

  /** Reserves the id (creating its folder); AlreadyExists when it is taken. */
  reserve(id: string): void {
    checkId(id);
    fs.mkdirSync(this.root, { recursive: true, mode: 0o711 });
    try {
      fs.mkdirSync(this.dir(id), { mode: 0o711 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new AlreadyExistsError(`container "${id}" already exists`, { details: { field: 'id' } });
      throw toPodkitError(err, `create state folder for ${id}`);
    }
  }

  /** Atomic, not fsynced unless `durable` (see the top of this file). */
  save(rec: StateRecord, durable = false): void {
    writeFileAtomic(path.join(this.dir(rec.id), 'state.json'), JSON.stringify(rec), 0o600, durable);
  }

  load(id: string): StateRecord {
    checkId(id);
    let text: string;
    try {
      text = fs.readFileSync(path.join(this.dir(id), 'state.json'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`container "${id}" does not exist`, { details: { field: 'id' } });
      throw toPodkitError(err, `read state of ${id}`);
    }
    try {
      return JSON.parse(text) as StateRecord;
    } catch (err) {
      throw new DataLossError(`container "${id}": its state record is unreadable (${(err as Error).message}); \`delete --force\` removes it`, { details: { field: 'id' } });
    }
  }

  /** Removes the container's folder: its files (state.json, exec.fifo, temp files), then the folder. */
  remove(id: string): void {
    const dir = this.dir(id);
    // The folder holds only files: no recursive rm (whose module costs podrun's start-up ~1 ms).
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw toPodkitError(err, `remove state of ${id}`);
    }
    for (const name of names) {
      try {
        fs.unlinkSync(path.join(dir, name));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EISDIR' || code === 'EPERM') fs.rmSync(path.join(dir, name), { recursive: true, force: true });
        else if (code !== 'ENOENT') throw toPodkitError(err, `remove state of ${id}`);
      }
    }
    try {
      fs.rmdirSync(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A file that appeared meanwhile (a concurrent writer's temp file): the slow way.
      if (code === 'ENOTEMPTY') fs.rmSync(dir, { recursive: true, force: true });
      else if (code !== 'ENOENT') throw toPodkitError(err, `remove state of ${id}`);
    }
  }

  ids(): string[] {
    try {
      return fs
        .readdirSync(this.root, { withFileTypes: true })
        .filter((d) => d.isDirectory() && fs.existsSync(path.join(this.root, d.name, 'state.json')))
        .map((d) => d.name)
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw toPodkitError(err, `list ${this.root}`);
    }
  }

  /**
   * The current status, from the process itself: gone, a zombie or a different process (start time or
   * pidfd inode differ) → stopped; its cgroup frozen → paused; alive with the exec FIFO present →
   * created; else running.
   */
  status(rec: StateRecord): Status {
    if (rec.pid === 0) return 'creating';
    if (!this.alive(rec)) return 'stopped';
    if (backendOf(rec.cgroupPaths).frozen(rec.cgroupPaths)) return 'paused';
    return fs.existsSync(this.fifo(rec.id)) ? 'created' : 'running';
  }

  private alive(rec: StateRecord): boolean {
    const st = readProcStat(rec.pid);
    if (!st || st.startTime !== rec.startTime || st.state === 'Z' || st.state === 'X') return false;
    const fd = this.tryPidfd(rec.pid);
    if (fd === undefined) return false;
    try {
      return pidfdInode(fd) === rec.pidfdInode;
    } finally {
      fs.closeSync(fd);
    }
  }

  private tryPidfd(pid: number): number | undefined {
    try {
      return pidfdOpen(pid);
    } catch {
      return undefined;
    }
  }

  /** Opens a pidfd for the record's process and checks it is the same process; NotFound if not. */
  openProcess(rec: StateRecord): number {
    const st = readProcStat(rec.pid);
    if (!st || st.startTime !== rec.startTime) throw new NotFoundError(`container "${rec.id}": its process ${rec.pid} no longer exists`);
    const fd = pidfdOpen(rec.pid);
    if (pidfdInode(fd) !== rec.pidfdInode) {
      fs.closeSync(fd);
      throw new NotFoundError(`container "${rec.id}": pid ${rec.pid} now belongs to another process`);
    }
    return fd;
  }
}
