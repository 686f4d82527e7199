/**
 * runc's `events --stats` data shape (libcontainer's types.Stats, runc 1.1): the key order of its Go
 * structs and their `omitempty` rules (a zero number, an empty string, list or map is left out), so
 * that podrun prints what runc prints. Pure parsers of the cgroup files, shared by the v1 and v2 backends.
 */
import * as fs from 'node:fs';

export interface BlkioEntry {
  major?: number;
  minor?: number;
  op?: string;
  value?: number;
}

/** runc's Blkio field names, in its struct order (sic: `ioQueueRecursive`). */
export const BLKIO_KEYS = [
  'ioServiceBytesRecursive',
  'ioServicedRecursive',
  'ioQueueRecursive',
  'ioServiceTimeRecursive',
  'ioWaitTimeRecursive',
  'ioMergedRecursive',
  'ioTimeRecursive',
  'sectorsRecursive',
] as const;
export type BlkioKey = (typeof BLKIO_KEYS)[number];
export type Blkio = Partial<Record<BlkioKey, BlkioEntry[]>>;

/** A Go `omitempty` field: left out when 0, '', an empty list or an empty/absent map. */
export function omitEmpty<T extends Record<string, unknown>>(o: T, keys: readonly (keyof T)[]): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    const empty = v === 0 || v === '' || v === undefined || (Array.isArray(v) && v.length === 0) || (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);
    if (empty && keys.includes(k as keyof T)) continue;
    out[k] = v;
  }
  return out as Partial<T>;
}

export function blkioEntry(major: number, minor: number, op: string, value: number): BlkioEntry {
  return omitEmpty({ major, minor, op, value }, ['major', 'minor', 'op', 'value']);
}

/**
 * A v1 blkio file (`8:0 Read 4096` lines, or `8:0 4096` for sectors/time; the `Total` line is left
 * out, as runc does). Malformed lines are skipped.
 */
export function parseBlkioV1(text: string): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(f[0] ?? '');
    if (!dev || (f.length !== 2 && f.length !== 3)) continue;
    const value = Number(f[f.length - 1]);
    if (!Number.isFinite(value)) continue;
    out.push(blkioEntry(Number(dev[1]), Number(dev[2]), f.length === 3 ? (f[1] ?? '') : '', value));
  }
  return out;
}

/** v2's io.stat (`8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`) as runc maps it onto v1's fields. */
export function parseIoStatV2(text: string): Blkio {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(f[0] ?? '');
    if (!dev) continue;
    const major = Number(dev[1]);
    const minor = Number(dev[2]);
    for (const kv of f.slice(1)) {
      const [k, v] = kv.split('=');
      const value = Number(v);
      if (v === undefined || !Number.isFinite(value)) continue;
      if (k === 'rbytes') bytes.push(blkioEntry(major, minor, 'Read', value));
      else if (k === 'wbytes') bytes.push(blkioEntry(major, minor, 'Write', value));
      else if (k === 'rios') ios.push(blkioEntry(major, minor, 'Read', value));
      else if (k === 'wios') ios.push(blkioEntry(major, minor, 'Write', value));
    }
  }
  return omitEmpty({ ioServiceBytesRecursive: bytes, ioServicedRecursive: ios }, ['ioServiceBytesRecursive', 'ioServicedRecursive']);
}

/** A cpuset list (`0-3,6`) as the numbers runc prints. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (!part) continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const lo = Number(m[1]);
    const hi = m[2] !== undefined ? Number(m[2]) : lo;
    for (let i = lo; i <= hi; i++) out.push(i);
  }
  return out;
}

/** cpuacct.usage_all (`cpu user system` header, then one line per cpu) as [kernel per cpu, user per cpu]. */
export function parseUsageAll(text: string): { kernel: number[]; user: number[] } {
  const kernel: number[] = [];
  const user: number[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 3) continue;
    user.push(Number(f[1]));
    kernel.push(Number(f[2]));
  }
  return { kernel, user };
}

/** The hugepage sizes of this host as runc names them (`hugepages-2048kB` -> `2MB`). */
export function hugePageSizeName(dirName: string): string | undefined {
  const m = /^hugepages-(\d+)kB$/.exec(dirName);
  if (!m) return undefined;
  let n = Number(m[1]) * 1024;
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (n >= 1024 && n % 1024 === 0 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n}${units[i]}`;
}

/** This host's hugepage sizes as runc names them (none when the kernel has no hugetlb support). */
export function hostHugePageSizes(): string[] {
  try {
    return fs.readdirSync('/sys/kernel/mm/hugepages').map(hugePageSizeName).filter((x): x is string => x !== undefined);
  } catch {
    return [];
  }
}

/** A Go map as encoding/json prints it: keys in sorted order. */
export function sortedKeys<V>(m: Record<string, V>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const k of Object.keys(m).sort()) out[k] = m[k] as V;
  return out;
}

/** runc's MemoryEntry: limit and failcnt always, usage and max when non-zero. */
export function memoryEntry(limit: number, usage: number, max: number, failcnt: number): Record<string, number> {
  return omitEmpty({ limit, usage, max, failcnt }, ['usage', 'max']) as Record<string, number>;
}
