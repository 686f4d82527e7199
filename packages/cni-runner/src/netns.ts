/**
 * Named, pinned network namespaces under `<runDir>/netns` (default /run/podkit/netns), as `ip netns`
 * keeps them under /run/netns: create, check, remove (idempotent), list, and run a command inside one.
 * Pinning is done by runtime-core's native code from a short-lived thread; commands run through the
 * `podkit-netns` helper. No thread of Node ever enters another namespace.
 */
import { spawn, type StdioOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlreadyExistsError, invalidField, NotFoundError, toPodkitError } from '@podkit/errdefs';
import { inspectNetns, netnsExecCommand, pinNetns, unpinNetns } from '@podkit/runtime-core/sys';
import { DEFAULT_RUN_DIR } from './runner';

export interface NamedNetns {
  name: string;
  path: string;
}

/** Names as `ip netns` accepts them: no "/", not "." or "..", at most 255 bytes, printable. */
export function validateNetnsName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw invalidField('name', 'is required and must be a non-empty string');
  if (name === '.' || name === '..' || name.includes('/')) throw invalidField('name', `"${name}" must not be "." or ".." or contain "/"`);
  if (Buffer.byteLength(name) > 255) throw invalidField('name', 'is longer than 255 bytes');
  if ([...name].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) throw invalidField('name', 'must not contain control characters');
  return name;
}

export class NetnsStore {
  readonly dir: string;

  constructor(runDir: string = DEFAULT_RUN_DIR) {
    if (!path.isAbsolute(runDir)) throw invalidField('runDir', `must be an absolute path, got "${runDir}"`);
    this.dir = path.join(runDir, 'netns');
  }

  pathOf(name: string): string {
    return path.join(this.dir, validateNetnsName(name));
  }

  /** Creates and pins a new namespace. AlreadyExists when the name is taken. */
  async add(name: string): Promise<NamedNetns> {
    const p = this.pathOf(name);
    try {
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    } catch (err) {
      throw toPodkitError(err, `create ${this.dir}`);
    }
    try {
      await pinNetns(p);
    } catch (err) {
      if ((err as { code?: string }).code === 'AlreadyExists') {
        throw new AlreadyExistsError(`network namespace "${name}" already exists (${p})`, { cause: err });
      }
      throw err;
    }
    return { name, path: p };
  }

  /** The namespace's path; NotFound when there is no pinned namespace of that name. */
  async get(name: string): Promise<NamedNetns> {
    const p = this.pathOf(name);
    const info = await inspectNetns(p);
    if (!info.isNetns) throw new NotFoundError(`network namespace "${name}" not found (${p})`, { details: { field: 'name' } });
    return { name, path: p };
  }

  /** Unmounts and removes a namespace. Idempotent. */
  async rm(name: string): Promise<void> {
    await unpinNetns(this.pathOf(name));
  }

  /** Pinned namespaces, sorted by name (files that are not namespaces are left out). */
  async list(): Promise<NamedNetns[]> {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw toPodkitError(err, `read ${this.dir}`);
    }
    const out: NamedNetns[] = [];
    for (const name of names.sort()) {
      const p = path.join(this.dir, name);
      const info = await inspectNetns(p).catch(() => undefined);
      if (info?.isNetns) out.push({ name, path: p });
    }
    return out;
  }

  /**
   * Runs a command inside the namespace and resolves with its exit status (128+n when killed by signal n).
   * stdio defaults to inherit.
   */
  async exec(name: string, argv: string[], stdio: StdioOptions = 'inherit'): Promise<number> {
    const ns = await this.get(name);
    return runInNetns(ns.path, argv, stdio);
  }
}

/** Runs argv inside the namespace at nsPath through podkit-netns; resolves with the exit status. */
export function runInNetns(nsPath: string, argv: string[], stdio: StdioOptions = 'inherit'): Promise<number> {
  const cmd = netnsExecCommand(nsPath, argv);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd.file, cmd.args, { stdio });
    child.on('error', (err) => reject(toPodkitError(err, `run ${argv[0]} in ${nsPath}`)));
    child.on('close', (code, signal) => {
      if (signal) resolve(128 + (os.constants.signals[signal] ?? 0));
      else resolve(code ?? 1);
    });
  });
}
