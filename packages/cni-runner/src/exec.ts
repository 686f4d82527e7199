/**
 * Running one plugin: find its binary on the search path, start it with the CNI environment and the
 * configuration on stdin, collect stdout, and turn every way it can fail (missing, not executable,
 * hanging past the timeout, killed by a signal, a CNI error, garbage) into an error that names the
 * plugin's type and the network.
 *
 * When a "plugin network namespace" is set, the plugin process itself runs inside that namespace
 * (through the `podkit-netns` helper: setns, then exec), so a test or a nested node can give the
 * plugins a host namespace of its own. Node's threads never change namespace.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeadlineExceededError, InternalError, NotFoundError, PermissionDeniedError, type PodkitError } from '@podkit/errdefs';
import { netnsHelperPath } from '@podkit/runtime-core/sys';
import { cniError, describeCall, parseCniError, type PluginCallSite } from './errors';

export const DEFAULT_BIN_DIRS = ['/opt/cni/bin', '/usr/lib/cni'];
export const DEFAULT_TIMEOUT_MS = 60_000;
const MAX_OUTPUT = 16 * 1024 * 1024;

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'STATUS' | 'GC';

/** The CNI_* variables of one call. Empty strings are passed as empty variables, as libcni does. */
export interface CniEnv {
  command: CniCommand;
  containerId?: string;
  netns?: string;
  ifName?: string;
  args?: Array<[string, string]>;
  path: string[];
}

export interface ExecOptions {
  timeoutMs: number;
  /** Run the plugin process inside this network namespace (a pinned path). */
  pluginNetns?: string;
  /** The environment the CNI variables are added to (default: this process's). */
  baseEnv?: NodeJS.ProcessEnv;
}

/** Finds a plugin by type on the search path. NotFound naming the type, the network and the folders. */
export function findPlugin(site: PluginCallSite, binDirs: readonly string[]): string {
  for (const dir of binDirs) {
    const file = path.join(dir, site.type);
    try {
      const st = fs.statSync(file);
      if (st.isFile()) return file;
    } catch {
      /* not in this folder */
    }
  }
  return notFound(site, binDirs);
}

function notFound(site: PluginCallSite, binDirs: readonly string[]): never {
  throw new NotFoundError(`${describeCall(site)}: plugin "${site.type}" not found in ${binDirs.join(':') || '(empty path)'}`, {
    details: { plugin: site.type, network: site.network, command: site.command, field: 'binDirs' },
  });
}

export function cniArgsString(args: Array<[string, string]> | undefined): string {
  return (args ?? []).map(([k, v]) => `${k}=${v}`).join(';');
}

export function buildEnv(cni: CniEnv, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!k.startsWith('CNI_') && v !== undefined) env[k] = v;
  env['CNI_COMMAND'] = cni.command;
  env['CNI_PATH'] = cni.path.join(':');
  if (cni.command !== 'VERSION') {
    env['CNI_CONTAINERID'] = cni.containerId ?? '';
    env['CNI_NETNS'] = cni.netns ?? '';
    env['CNI_IFNAME'] = cni.ifName ?? '';
    env['CNI_ARGS'] = cniArgsString(cni.args);
  }
  return env;
}

/**
 * Runs the plugin and returns its stdout on success (exit 0). Rejects with a typed error otherwise.
 */
export function execPlugin(file: string, site: PluginCallSite, env: NodeJS.ProcessEnv, stdin: Buffer, opts: ExecOptions): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const [cmd, args] = opts.pluginNetns ? [netnsHelperPath(), [opts.pluginNetns, file]] : [file, [] as string[]];
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let timedOut = false;
    let tooBig = false;
    let settled = false;
    const finish = (e: PodkitError | undefined, value: Buffer = Buffer.alloc(0)): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (e) reject(e);
      else resolve(value);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      outLen += b.length;
      if (outLen > MAX_OUTPUT) {
        tooBig = true;
        child.kill('SIGKILL');
      } else out.push(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      errLen += b.length;
      if (errLen <= 64 * 1024) err.push(b);
    });
    child.stdin.on('error', () => {
      /* the plugin exited without reading its stdin: its exit status tells what happened */
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return finish(new NotFoundError(`${describeCall(site)}: ${file}: not found`, { cause: e, details: { plugin: site.type, network: site.network } }));
      if (e.code === 'EACCES') {
        return finish(new PermissionDeniedError(`${describeCall(site)}: ${file}: not executable`, { cause: e, details: { plugin: site.type, network: site.network } }));
      }
      finish(new InternalError(`${describeCall(site)}: start ${file}: ${e.message}`, { cause: e, details: { plugin: site.type, network: site.network } }));
    });
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out);
      const stderr = Buffer.concat(err).toString('utf8').trim();
      const details = { plugin: site.type, network: site.network, command: site.command, ...(stderr ? { stderr } : {}) };
      if (timedOut) return finish(new DeadlineExceededError(`${describeCall(site)}: no answer within ${opts.timeoutMs} ms (killed)`, { details }));
      if (tooBig) return finish(new InternalError(`${describeCall(site)}: output larger than ${MAX_OUTPUT} bytes (killed)`, { details }));
      if (signal) return finish(new InternalError(`${describeCall(site)}: killed by ${signal}${stderr ? `: ${lastLine(stderr)}` : ''}`, { details }));
      if (code === 0) return finish(undefined, stdout);
      const text = stdout.toString('utf8').trim();
      const info = parseCniError(text);
      if (info) return finish(cniError(site, info, stderr));
      if (opts.pluginNetns && code === 125 && stderr.startsWith('podkit-netns:')) {
        return finish(new InternalError(`${describeCall(site)}: cannot enter plugin network namespace ${opts.pluginNetns}: ${lastLine(stderr)}`, { details }));
      }
      const shown = text ? `; output is not a CNI error: ${JSON.stringify(text.slice(0, 200))}` : '';
      return finish(new InternalError(`${describeCall(site)}: exited with status ${code}${shown}${stderr ? `; stderr: ${lastLine(stderr)}` : ''}`, { details }));
    });
    child.stdin.end(stdin);
  });
}

function lastLine(s: string): string {
  const lines = s.split('\n').filter((l) => l.trim().length > 0);
  return (lines[lines.length - 1] ?? '').slice(0, 500);
}
