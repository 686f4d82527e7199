/**
 * OCI hooks run by the runtime itself (prestart, createRuntime, poststart, poststop), in the runtime's
 * namespaces, each with the container's state JSON on stdin, its own args and env, and its timeout.
 * createContainer and startContainer run inside the container (podkit-init, see the plan's `hooks`).
 */
import { DeadlineExceededError, FailedPreconditionError } from '@podkit/errdefs';
import type { Hook, Hooks } from '@podkit/oci-spec';
import { ociRuntime } from './oci';

export type HookKind = keyof Hooks;

/** The OCI state a hook reads on stdin. */
export interface HookState {
  ociVersion: string;
  id: string;
  status: 'creating' | 'created' | 'running' | 'stopped';
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

export function hookState(id: string, status: HookState['status'], pid: number, bundle: string, annotations?: Record<string, string>): HookState {
  return { ociVersion: ociRuntime().OCI_VERSION, id, status, ...(pid > 0 ? { pid } : {}), bundle, ...(annotations ? { annotations } : {}) };
}

/** Runs one hook; rejects with FailedPrecondition (failed) or DeadlineExceeded (timed out). */
export function runHook(hook: Hook, kind: string, index: number, state: HookState): Promise<void> {
  const where = `${kind} hook ${index} (${hook.path})`;
  const args = hook.args && hook.args.length > 0 ? hook.args : [hook.path];
  const env: Record<string, string> = {};
  for (const kv of hook.env ?? []) {
    const eq = kv.indexOf('=');
    if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return new Promise((resolve, reject) => {
    // Loaded here, not at the top: child_process (with net and streams) costs podrun's start-up ~5 ms,
    // and most containers have no runtime hooks.
    const { spawn } = require('node:child_process') as typeof import('node:child_process');
    const child = spawn(hook.path, args.slice(1), { argv0: args[0], env, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    let timedOut = false;
    const timer = hook.timeout
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
          // A process the hook left behind may hold its stderr open: stop waiting for it.
          child.stderr.destroy();
        }, hook.timeout * 1000)
      : undefined;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    // A hook that does not read its stdin closes it: its exit status decides.
    child.stdin.on('error', () => undefined);
    child.stdin.end(JSON.stringify(state));
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(new FailedPreconditionError(`${where}: ${err.message}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const tail = stderr.trim() ? `: ${stderr.trim()}` : '';
      if (timedOut) reject(new DeadlineExceededError(`${where} did not finish within its timeout of ${hook.timeout} s`));
      else if (code !== 0) reject(new FailedPreconditionError(`${where} failed: ${signal ? `signal ${signal}` : `exit status ${code}`}${tail}`));
      else resolve();
    });
  });
}

/** Runs the hooks of one kind in order; the first failure stops them and is thrown. */
export async function runHooks(hooks: Hooks | undefined, kind: HookKind, state: HookState): Promise<void> {
  const list = hooks?.[kind] ?? [];
  for (let i = 0; i < list.length; i++) await runHook(list[i] as Hook, kind, i, state);
}

/** As runHooks, but failures become warnings (poststart, poststop: the operation already happened). */
export async function runHooksWarn(hooks: Hooks | undefined, kind: HookKind, state: HookState): Promise<string[]> {
  const list = hooks?.[kind] ?? [];
  const warnings: string[] = [];
  for (let i = 0; i < list.length; i++) {
    try {
      await runHook(list[i] as Hook, kind, i, state);
    } catch (err) {
      warnings.push((err as Error).message);
    }
  }
  return warnings;
}
