/** `exec`: run an extra process in all of a container's namespaces and cgroups. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FailedPreconditionError } from '@podkit/errdefs';
import type { Process } from '@podkit/oci-spec';
import { ociRuntime } from './oci';
import { buildExecPlan } from '../plan/build';
import { backendOf } from '../cgroups/backend';
import { placeIntelRdt, type ResctrlHost } from '../intelrdt/resctrl';
import { type SpawnInitOptions } from '../sys/process';
import { tasksFds, withExtraFds } from './create';
import { runInit } from './init-driver';
import { hookState } from './hooks';
import { seccompAgent } from './seccomp-notify';
import { can } from './state';
import { writeFileAtomic, type StateStore } from './store';

export interface ExecOptions {
  /** A full process (process.json); else `args` (+ overrides) on top of the config's process. */
  process?: unknown;
  args?: string[];
  cwd?: string;
  env?: string[];
  user?: { uid: number; gid: number; additionalGids?: number[] };
  pidFile?: string;
  /** A terminal (with bare args; a process file says so itself with `terminal`). */
  tty?: boolean;
  /** Where the pty master of a terminal is sent. */
  consoleSocket?: string;
  /** `--preserve-fds`: this process's fds 3 .. 3+N-1 are passed to the process as the same numbers. */
  preserveFds?: number;
  stdio?: SpawnInitOptions;
  /** Intel RDT: how resctrl is reached (default: the real files; tests: a fake tree). */
  resctrl?: ResctrlHost;
}

/** `KEY=value` lists: a later entry replaces an earlier one with the same key (as runc's --env). */
export function mergeEnv(base: readonly string[], extra: readonly string[]): string[] {
  const out = new Map<string, string>();
  for (const kv of [...base, ...extra]) {
    const eq = kv.indexOf('=');
    out.set(eq < 0 ? kv : kv.slice(0, eq), kv);
  }
  return [...out.values()];
}

function readSetgroups(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/setgroups`, 'utf8').trim();
  } catch {
    return 'allow';
  }
}

export async function exec(store: StateStore, id: string, opts: ExecOptions): Promise<{ pid: number; pidfd: number; warnings: string[] }> {
  const rec = store.load(id);
  const status = store.status(rec);
  if (!can.exec(status)) throw new FailedPreconditionError(`cannot exec in container "${id}" that is ${status}`);
  let proc: Process;
  if (opts.process !== undefined) {
    proc = ociRuntime().validateProcess(opts.process);
  } else {
    if (!opts.args?.length) throw new FailedPreconditionError('exec: give the command (args) or a process file');
    const base = rec.process;
    proc = {
      ...base,
      terminal: opts.tty === true,
      args: opts.args,
      cwd: opts.cwd ?? base.cwd,
      env: mergeEnv(base.env ?? [], opts.env ?? []),
      user: opts.user ?? base.user,
    };
  }
  if (opts.tty && opts.process !== undefined) proc = { ...proc, terminal: true };
  // In a user namespace whose setgroups is "deny" (made by a runtime without CAP_SETGID), setgroups(2) is refused.
  const setgroups = rec.namespaces.includes('user') && readSetgroups(rec.pid) === 'deny' ? 'deny' : 'allow';
  const { plan, warnings } = buildExecPlan(proc, rec.pid, rec.namespaces, '/process', opts.consoleSocket ? path.resolve(opts.consoleSocket) : undefined, opts.preserveFds ?? 0, rec.seccomp, setgroups, rec.personality);
  // Re-check the init right before using its /proc/<pid>/ns paths.
  const check = store.openProcess(rec);
  fs.closeSync(check);
  // cgroup v1: the process joins the container's cgroups itself, as a created init does (create.ts).
  const selfJoin = backendOf(rec.cgroupPaths).version === 1;
  const init = await runInit(plan, {
    stdio: withExtraFds(opts.stdio, opts.preserveFds),
    ...(selfJoin ? { cgroupJoin: () => tasksFds(rec.cgroupPaths) } : {}),
    place: (pid) => {
      if (!selfJoin) backendOf(rec.cgroupPaths).place(rec.cgroupPaths, pid);
      // The container's CLOS group too, as runc does for exec'd processes.
      if (rec.intelRdt) placeIntelRdt(rec.intelRdt, pid, opts.resctrl?.fs);
    },
    // seccomp SCMP_ACT_NOTIFY: the exec'd process's listener goes to the agent with the container's state.
    seccompListener: seccompAgent(rec.seccomp, () => hookState(rec.id, status === 'created' ? 'created' : 'running', rec.pid, rec.bundle, rec.annotations)),
  });
  // Runtime state: atomic, not fsynced (see store.ts), as runc writes it.
  if (opts.pidFile) writeFileAtomic(path.resolve(opts.pidFile), String(init.pid), 0o644, false);
  return { pid: init.pid, pidfd: init.pidfd, warnings: [...warnings, ...init.warnings] };
}
