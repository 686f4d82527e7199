/**
 * Intel RDT (`/linux/intelRdt`) through the resctrl filesystem, as runc's intelrdt manager does: a
 * container's CLOS is a folder of the resctrl mount (named by `closID`, else the container id) whose
 * `schemata` file takes the L3 cache (CAT) and memory bandwidth (MBA) schemata and whose `tasks` file
 * takes the container's processes. A `closID` naming a group that already exists joins it (several
 * containers share one CLOS); its schemata must then match what the config asks (runtime-spec), and
 * the group is left in place on delete.
 *
 * Every file access goes through a `ResctrlFs` seam, so this is tested on a fake tree (fake-tree.ts)
 * where the host has no resctrl mount (this machine).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { invalidField, toPodkitError } from '@podkit/errdefs';
import type { LinuxIntelRdt } from '@podkit/oci-spec';

const F = '/linux/intelRdt';

export interface ResctrlFs {
  exists(p: string): boolean;
  read(p: string): string;
  /** Writes an existing file (resctrl has no others). */
  write(p: string, value: string): void;
  mkdir(p: string): void;
  rmdir(p: string): void;
}

export const realResctrlFs: ResctrlFs = {
  exists: (p) => fs.existsSync(p),
  read: (p) => fs.readFileSync(p, 'utf8'),
  write: (p, value) => {
    const fd = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_TRUNC);
    try {
      fs.writeSync(fd, value);
    } finally {
      fs.closeSync(fd);
    }
  },
  mkdir: (p) => fs.mkdirSync(p),
  rmdir: (p) => fs.rmdirSync(p),
};

/**
 * Where the runtime finds resctrl: `root` is its mount point (default: this host's, from mountinfo)
 * and `fs` the file access (default: the real files). Tests give a fake tree (fake-tree.ts).
 */
export interface ResctrlHost {
  root?: string;
  fs?: ResctrlFs;
}

/** The mount point of the resctrl filesystem in a mountinfo text, or undefined. */
export function findResctrlMount(mountinfo: string): string | undefined {
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    if (line.slice(sep + 3).split(' ')[0] !== 'resctrl') continue;
    const mountpoint = line.slice(0, sep).split(' ')[4];
    if (mountpoint) return mountpoint.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  }
  return undefined;
}

/** This host's resctrl mount (from /proc/self/mountinfo), or undefined. */
export function hostResctrlRoot(): string | undefined {
  return findResctrlMount(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** Names resctrl keeps for itself in its root. */
const RESERVED = ['info', 'mon_groups', 'mon_data'];

/** What the host's resctrl offers (from its `info` folder). */
export interface RdtFeatures {
  cat: boolean;
  mba: boolean;
  cmt: boolean;
  mbm: boolean;
}

export function rdtFeatures(root: string, rfs: ResctrlFs = realResctrlFs): RdtFeatures {
  const info = path.join(root, 'info');
  let mon = '';
  try {
    mon = rfs.read(path.join(info, 'L3_MON', 'mon_features'));
  } catch {
    /* no monitoring */
  }
  const monFeatures = mon.split(/\s+/);
  return {
    // With CDP on, L3 is split into L3CODE and L3DATA.
    cat: rfs.exists(path.join(info, 'L3')) || rfs.exists(path.join(info, 'L3CODE')),
    mba: rfs.exists(path.join(info, 'MB')),
    cmt: monFeatures.includes('llc_occupancy'),
    mbm: monFeatures.includes('mbm_total_bytes') || monFeatures.includes('mbm_local_bytes'),
  };
}

function schemaLines(field: string, schema: string, prefixes: readonly string[]): string[] {
  const lines = schema
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines.length === 0) throw invalidField(field, 'must not be empty');
  for (const l of lines) {
    const m = /^([A-Z0-9]+):(.+)$/.exec(l);
    if (!m || !prefixes.includes(m[1] as string)) throw invalidField(field, `"${l}" is not a ${prefixes.join('/')} schema line ("${prefixes[0]}:<domain>=<value>;...")`);
    if (!m[2]?.split(';').every((d) => /^\s*\d+\s*=\s*[0-9a-fA-F]+\s*$/.test(d))) throw invalidField(field, `"${l}" must list <domain id>=<value> pairs separated by ";"`);
  }
  return lines;
}

export interface RdtPlan {
  /** The CLOS group folder. */
  dir: string;
  /** Lines for its `schemata` file (empty: leave the group's as they are). */
  schemata: string[];
}

/**
 * Validates `/linux/intelRdt` against the host's resctrl (`root`: its mount point, undefined when
 * it is not mounted) and gives the group to use. Throws InvalidArgument naming the field.
 */
export function planIntelRdt(rdt: LinuxIntelRdt, id: string, root: string | undefined, rfs: ResctrlFs = realResctrlFs): RdtPlan {
  if (root === undefined) throw invalidField(F, 'resctrl is not mounted (no resctrl filesystem in /proc/self/mountinfo; mount it at /sys/fs/resctrl on a host with Intel RDT)');
  const clos = rdt.closID ?? id;
  if (rdt.closID !== undefined && (clos === '' || clos.includes('/') || clos === '.' || clos === '..' || RESERVED.includes(clos) || clos.includes('\0'))) {
    throw invalidField(`${F}/closID`, `must be a plain folder name (no "/", not ".", "..", ${RESERVED.join(', ')}), got "${clos}"`);
  }
  const feats = rdtFeatures(root, rfs);
  const schemata: string[] = [];
  if (rdt.l3CacheSchema !== undefined && rdt.l3CacheSchema !== '') {
    if (!feats.cat) throw invalidField(`${F}/l3CacheSchema`, `Intel RDT cache allocation (CAT) is not enabled here (no info/L3 in ${root})`);
    schemata.push(...schemaLines(`${F}/l3CacheSchema`, rdt.l3CacheSchema, ['L3', 'L3CODE', 'L3DATA']));
  }
  if (rdt.memBwSchema !== undefined && rdt.memBwSchema !== '') {
    if (!feats.mba) throw invalidField(`${F}/memBwSchema`, `Intel RDT memory bandwidth allocation (MBA) is not enabled here (no info/MB in ${root})`);
    schemata.push(...schemaLines(`${F}/memBwSchema`, rdt.memBwSchema, ['MB']));
  }
  if (rdt.enableCMT && !feats.cmt) throw invalidField(`${F}/enableCMT`, `cache monitoring (llc_occupancy) is not offered here (info/L3_MON/mon_features in ${root})`);
  if (rdt.enableMBM && !feats.mbm) throw invalidField(`${F}/enableMBM`, `memory bandwidth monitoring (mbm_*_bytes) is not offered here (info/L3_MON/mon_features in ${root})`);
  return { dir: path.join(root, clos), schemata };
}

/** Schemata lines by resource, with blanks removed ("L3:0=7f0;1=1f" → L3 → "0=7f0;1=1f"). */
function byResource(lines: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) out.set(l.slice(0, i).trim(), l.slice(i + 1).replace(/\s+/g, '').toLowerCase());
  }
  return out;
}

/** Whether every domain value asked for is what the group has (the kernel prints all domains, padded). */
function schemataMatch(have: string, want: readonly string[]): boolean {
  const h = byResource(have.split('\n'));
  for (const [res, domains] of byResource(want)) {
    const cur = new Map((h.get(res) ?? '').split(';').map((d) => d.split('=') as [string, string]));
    for (const d of domains.split(';')) {
      const [k, v] = d.split('=');
      const c = cur.get(k as string);
      if (c === undefined || parseInt(c, 16) !== parseInt(v as string, 16)) return false;
    }
  }
  return true;
}

export interface RdtGroup {
  dir: string;
  /** Whether this container made the group (and removes it on delete). */
  created: boolean;
}

/**
 * Makes (or joins) the CLOS group and writes its schemata. Joining an existing group whose
 * schemata differ from the config's is an error (runtime-spec). Undoes the folder it made on failure.
 */
export function applyIntelRdt(p: RdtPlan, rfs: ResctrlFs = realResctrlFs): RdtGroup {
  if (rfs.exists(p.dir)) {
    if (p.schemata.length > 0 && !schemataMatch(rfs.read(path.join(p.dir, 'schemata')), p.schemata)) {
      throw invalidField(F, `the CLOS group ${path.basename(p.dir)} exists with other schemata than the config's (${p.schemata.join('; ')})`);
    }
    return { dir: p.dir, created: false };
  }
  try {
    rfs.mkdir(p.dir);
  } catch (err) {
    throw toPodkitError(err, `${F}: create the CLOS group ${p.dir}`);
  }
  try {
    if (p.schemata.length > 0) writeSchemata(p, rfs);
  } catch (err) {
    try {
      rfs.rmdir(p.dir);
    } catch {
      /* best effort: the original error matters */
    }
    throw err;
  }
  return { dir: p.dir, created: true };
}

function writeSchemata(p: RdtPlan, rfs: ResctrlFs): void {
  try {
    rfs.write(path.join(p.dir, 'schemata'), `${p.schemata.join('\n')}\n`);
  } catch (err) {
    // The kernel explains a refused schemata line in info/last_cmd_status.
    let status = '';
    try {
      status = rfs.read(path.join(path.dirname(p.dir), 'info', 'last_cmd_status')).trim();
    } catch {
      /* older kernels have none */
    }
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw invalidField(F, `the kernel refused the schemata "${p.schemata.join('; ')}" (${code}${status ? `: ${status}` : ''})`, err);
  }
}

/** Moves a process into the group (`tasks`). */
export function placeIntelRdt(g: RdtGroup, pid: number, rfs: ResctrlFs = realResctrlFs): void {
  try {
    rfs.write(path.join(g.dir, 'tasks'), String(pid));
  } catch (err) {
    throw toPodkitError(err, `${F}: place ${pid} in ${g.dir}/tasks`);
  }
}

/** Whether a task (a `tasks` entry: a thread id) still runs: zombies and exited ones do not count. */
export function taskAlive(tid: number): boolean {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${tid}/stat`, 'latin1');
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/**
 * Removes the group if this container made it. The container's processes are gone by then; a task
 * still in the group belongs to another container that joined it by closID, and removing the group
 * would silently move that task back to the default group (the kernel does that on rmdir). Such a
 * group is left in place: the return value is then a warning for the caller.
 */
export function removeIntelRdt(g: RdtGroup, rfs: ResctrlFs = realResctrlFs, alive: (tid: number) => boolean = taskAlive): string | undefined {
  if (!g.created) return undefined;
  let users: string[] = [];
  try {
    users = rfs
      .read(path.join(g.dir, 'tasks'))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^\d+$/.test(l) && alive(Number(l)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // removed already
    throw toPodkitError(err, `${F}: read ${g.dir}/tasks`);
  }
  if (users.length > 0) {
    const some = users.slice(0, 5).join(', ') + (users.length > 5 ? ', ...' : '');
    return `${F}: the CLOS group ${g.dir} is left in place: other containers joined it by closID and still use it (tasks ${some})`;
  }
  try {
    rfs.rmdir(g.dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw toPodkitError(err, `${F}: remove ${g.dir}`);
  }
  return undefined;
}

/**
 * The problems of `/linux/intelRdt` on this host, for the plan builder: none when it can be
 * applied, else one naming the field. `root` is the resctrl mount (default: this host's).
 */
export function intelRdtIssues(rdt: LinuxIntelRdt, id: string, root: string | undefined = hostResctrlRoot(), rfs: ResctrlFs = realResctrlFs): { path: string; reason: string }[] {
  try {
    planIntelRdt(rdt, id, root, rfs);
    return [];
  } catch (err) {
    const field = (err as { details?: { field?: string } }).details?.field ?? F;
    const msg = (err as Error).message;
    return [{ path: field, reason: msg.startsWith(`${field}: `) ? msg.slice(field.length + 2) : msg }];
  }
}
