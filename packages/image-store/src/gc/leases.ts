/**
 * Leases keep what an operation in progress is building safe from garbage collection, as containerd's
 * leases do: a pull takes a lease before it writes the first blob and names in it every digest and
 * snapshot it will reference; GC treats leased resources as roots. A lease lives in a file
 * `<root>/leases/<id>.json` stamped with its holder's pid and start time, so the lease of a process that
 * died (kill -9) is recognised as stale and ignored (and removed) by the next GC.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../fsutil';

export interface LeaseRecord {
  id: string;
  pid: number;
  /** The holder's start time (field 22 of /proc/<pid>/stat), so a reused pid is not mistaken for it. */
  startTime: string;
  createdAt: string;
  digests: string[];
  snapshots: string[];
}

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export class Lease {
  private readonly record: LeaseRecord;
  private released = false;

  private constructor(
    private readonly file: string,
    record: LeaseRecord,
  ) {
    this.record = record;
  }

  static async acquire(root: string): Promise<Lease> {
    const dir = path.join(root, 'leases');
    await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
    const id = `${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
    const record: LeaseRecord = {
      id,
      pid: process.pid,
      startTime: startTimeOf(process.pid) ?? '',
      createdAt: new Date().toISOString(),
      digests: [],
      snapshots: [],
    };
    const lease = new Lease(path.join(dir, `${id}.json`), record);
    await lease.save();
    return lease;
  }

  get id(): string {
    return this.record.id;
  }

  private save(): Promise<void> {
    // Atomic for other processes (a GC reads it), not fsynced: a lease protects only while its holder
    // runs, and after a crash of the machine every lease is stale anyway.
    return writeFileAtomic(this.file, JSON.stringify(this.record), 0o600, { durable: false });
  }

  /** Adds resources to the lease; they are protected once this resolves. */
  async add(resources: { digests?: string[]; snapshots?: string[] }): Promise<void> {
    if (this.released) return;
    const d = new Set(this.record.digests);
    const s = new Set(this.record.snapshots);
    let changed = false;
    for (const x of resources.digests ?? []) {
      if (!d.has(x)) {
        d.add(x);
        changed = true;
      }
    }
    for (const x of resources.snapshots ?? []) {
      if (!s.has(x)) {
        s.add(x);
        changed = true;
      }
    }
    if (!changed) return;
    this.record.digests = [...d];
    this.record.snapshots = [...s];
    await this.save();
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await fs.promises.rm(this.file, { force: true });
  }
}

/** The live leases under `root`; stale ones (their holder is gone) are removed. */
export async function liveLeases(root: string): Promise<LeaseRecord[]> {
  const dir = path.join(root, 'leases');
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: LeaseRecord[] = [];
  for (const n of names) {
    if (!n.endsWith('.json') || n.startsWith('.')) continue;
    const file = path.join(dir, n);
    let rec: LeaseRecord;
    try {
      rec = JSON.parse(await fs.promises.readFile(file, 'utf8')) as LeaseRecord;
    } catch {
      continue; // being written (atomic rename makes this rare) or removed meanwhile
    }
    const alive = startTimeOf(rec.pid);
    if (alive !== undefined && (rec.startTime === '' || alive === rec.startTime)) out.push(rec);
    else await fs.promises.rm(file, { force: true });
  }
  return out;
}
