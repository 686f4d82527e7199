/**
 * What the demo reads from /proc to find and prove the absence of what it made: process identities,
 * namespace holders (a process in the namespace or an fd pointing at it), mounts beneath a folder, and
 * the cgroup directories a relative `cgroupsPath` lands in (beneath this process's own cgroups, as the
 * runtime computes them).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ProcessRef } from './journal';

/** /proc/<pid>/stat field 22 (start time in clock ticks), or undefined when the process is gone. */
export function startTimeOf(pid: number): string | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command (field 2) may hold spaces and parentheses: split after its last ")".
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return rest[19];
}

export function processRef(pid: number, what: string): ProcessRef | undefined {
  const startTime = startTimeOf(pid);
  return startTime === undefined ? undefined : { pid, startTime, what };
}

/** True when the process recorded in `ref` still exists (same pid and same start time). */
export function alive(ref: ProcessRef): boolean {
  return startTimeOf(ref.pid) === ref.startTime && !isZombie(ref.pid);
}

/**
 * A zombie has exited and holds nothing (no namespaces, mounts or files) but its pid, until its parent
 * reaps it. A demo killed with -9 leaves its children to the nearest subreaper, which may be a process
 * that never reaps strangers (a jest worker that another suite made a subreaper): such a zombie is gone.
 */
export function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

function pids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

/** Processes whose argv equals `argv` exactly. */
export function findByArgv(argv: readonly string[]): ProcessRef[] {
  const want = `${argv.join('\0')}\0`;
  const out: ProcessRef[] = [];
  for (const pid of pids()) {
    let cmd: string;
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmd !== want) continue;
    const ref = processRef(pid, argv.join(' '));
    if (ref) out.push(ref);
  }
  return out;
}

/** The namespace identity of a path (`net:[4026…]`): a /proc/<pid>/ns/<type> link or a pinned nsfs file. */
export function nsIdentity(pid: number | 'self', type: string): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/${type}`);
  } catch {
    return undefined;
  }
}

export interface NsHolder {
  pid: number;
  ns: string;
  via: string;
}

/**
 * Every process that is in one of the namespaces `idents` (`net:[…]`, `uts:[…]`…) or holds an fd to it.
 * (A bind mount that pins a namespace is found through the mount table instead.)
 */
export function namespaceHolders(idents: readonly string[]): NsHolder[] {
  const want = new Set(idents);
  if (want.size === 0) return [];
  const types = [...new Set(idents.map((i) => i.slice(0, i.indexOf(':'))))];
  const out: NsHolder[] = [];
  for (const pid of pids()) {
    if (pid === process.pid) continue;
    for (const t of types) {
      const id = nsIdentity(pid, t);
      if (id && want.has(id)) out.push({ pid, ns: id, via: `/proc/${pid}/ns/${t}` });
    }
    let fds: string[] = [];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (want.has(target)) out.push({ pid, ns: target, via: `/proc/${pid}/fd/${fd}` });
    }
  }
  return out;
}

export interface MountEntry {
  mountPoint: string;
  fstype: string;
  source: string;
  root: string;
  superOptions: string[];
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function mountTable(pid: number | 'self' = 'self'): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    out.push({ root: unescapeMount(left[3] ?? ''), mountPoint: unescapeMount(left[4] ?? ''), fstype: right[0] ?? '', source: unescapeMount(right[1] ?? ''), superOptions: (right[2] ?? '').split(',') });
  }
  return out;
}

function within(p: string, dir: string): boolean {
  const d = dir.replace(/\/+$/, '');
  return p === d || p.startsWith(`${d}/`);
}

/** Mounts whose mount point is `dir` itself (e.g. a folder bound onto itself) or anything beneath it. */
export function mountsUnder(dirs: readonly string[], table: MountEntry[] = mountTable()): MountEntry[] {
  return table.filter((m) => dirs.some((d) => within(m.mountPoint, d)));
}

/**
 * The cgroup v1 directories that a relative `cgroupsPath` maps to for this process: in each hierarchy
 * mounted with root "/", `<mountpoint>/<own cgroup>/<rel>` (how runc and podkit's runtime place it).
 */
export function cgroupDirsFor(rel: string): string[] {
  if (rel.startsWith('/') || rel.split('/').includes('..')) throw new Error(`cgroupsPath "${rel}" must be relative and without ".."`);
  const own = new Map<string, string>();
  for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (m?.[2] !== undefined && m[3] !== undefined) own.set(m[2], m[3]);
  }
  const out: string[] = [];
  for (const m of mountTable()) {
    if (m.fstype === 'cgroup2' && own.has('')) {
      if (m.root === '/') out.push(path.join(m.mountPoint, own.get('') as string, rel));
      continue;
    }
    if (m.fstype !== 'cgroup' || m.root !== '/') continue;
    const controllers = m.superOptions.filter((o) => o !== 'rw' && o !== 'ro' && !o.startsWith('release_agent') && o !== 'clone_children' && o !== 'noprefix' && o !== 'xattr');
    const ownPath = own.get(controllers.join(','));
    if (ownPath === undefined) continue;
    const dir = path.join(m.mountPoint, ownPath, rel);
    if (!out.includes(dir)) out.push(dir);
  }
  return out;
}

/** Pids listed in a cgroup directory (empty when it does not exist). */
export function cgroupProcs(dir: string): number[] {
  try {
    return fs
      .readFileSync(path.join(dir, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * The identities among `ids` that are safe to treat as the demo's own: never a namespace this process or
 * PID 1 is in (a journal that named the machine's own namespaces must not make the teardown kill everything).
 */
export function foreignNamespaces(ids: readonly string[]): string[] {
  const types = ['net', 'ipc', 'uts', 'pid', 'mnt', 'cgroup'];
  const mine = new Set(types.flatMap((t) => [nsIdentity('self', t), nsIdentity(1, t)]).filter(Boolean));
  return ids.filter((i) => /^[a-z_]+:\[\d+\]$/.test(i) && !mine.has(i));
}
