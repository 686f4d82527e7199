/**
 * Shared scaffolding of the escape tests: a temp work folder with its own runtime state root, busybox
 * bundles (tools/src/rootfs), containers run through the runtime library with their output in files,
 * canaries (files whose content proves an attack did not reach them) and cleanup of everything.
 *
 * Every attack is aimed at something inside the test's own temp folder (a copy of the native helpers,
 * a canary file, an "outside" folder that stands for the host): a successful attack changes the
 * canary and the test fails, but nothing of the machine is touched.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Spec } from '@podkit/oci-spec';
import { Runtime, type ExitStatus } from '@podkit/runtime-core';
import { buildBusyboxBundle, busyboxAvailable } from '../runtime/rootfs';

export const isRoot = process.getuid?.() === 0;
export const ready = isRoot && busyboxAvailable();

/**
 * The native build under test (the helpers the tests copy before attacking them): $PODKIT_NATIVE_DIR
 * when set, so the suite can run against another build (a sanitized one, a candidate fix), else
 * runtime-core's native-bin.
 */
export const NATIVE_BIN = process.env['PODKIT_NATIVE_DIR'] ? path.resolve(process.env['PODKIT_NATIVE_DIR']) : path.resolve(__dirname, '../../../packages/runtime-core/native-bin');

export interface RunResult extends ExitStatus {
  stdout: string;
  stderr: string;
}

export interface Outcome {
  /** The error create/start threw (the runtime refused), else undefined. */
  error?: Error;
  result?: RunResult;
}

let seq = 0;

export function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Polls `cond` (every 5 ms) until it holds or the deadline passes; returns whether it held. */
export async function until(cond: () => boolean, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

/** Every line of the host's mountinfo that mentions `dir` (a test's folder). */
export function hostMountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(dir));
}

export class SecEnv {
  readonly work: string;
  readonly runtime: Runtime;
  private readonly ids = new Set<string>();

  constructor(readonly name: string) {
    this.work = fs.mkdtempSync(path.join(os.tmpdir(), `podkit-sec-${name}-`));
    this.runtime = new Runtime({ root: path.join(this.work, 'state') });
  }

  id(): string {
    const v = `sec-${this.name}-${process.pid}-${++seq}`;
    this.ids.add(v);
    return v;
  }

  /**
   * A busybox bundle at work/<name>: writable root, no terminal, a relative cgroup path (beneath
   * this process's own cgroup), no memory/pids limits; then `mutate`.
   */
  bundle(name: string, args: string[], mutate?: (s: Spec, rootfs: string) => void): string {
    const dir = path.join(this.work, name);
    buildBusyboxBundle(dir, {
      args,
      mutate: (s) => {
        s.linux = { ...s.linux, cgroupsPath: `podkit-sec-${process.pid}-${++seq}` };
        delete s.linux.resources?.memory;
        delete s.linux.resources?.pids;
        mutate?.(s, path.join(dir, 'rootfs'));
      },
    });
    return dir;
  }

  private files(id: string): { out: string; err: string } {
    return { out: path.join(this.work, `${id}.out`), err: path.join(this.work, `${id}.err`) };
  }

  output(id: string): { stdout: string; stderr: string } {
    const f = this.files(id);
    const read = (p: string) => (fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : '');
    return { stdout: read(f.out), stderr: read(f.err) };
  }

  /** Creates a container (output into files); throws what the runtime throws. */
  async create(bundle: string, id = this.id(), consoleSocket?: string): Promise<string> {
    this.ids.add(id);
    const f = this.files(id);
    const o = fs.openSync(f.out, 'w');
    const e = fs.openSync(f.err, 'w');
    const i = fs.openSync('/dev/null', 'r');
    try {
      await this.runtime.create(id, { bundle, stdio: { stdin: i, stdout: o, stderr: e }, ...(consoleSocket ? { consoleSocket } : {}) });
    } finally {
      for (const fd of [i, o, e]) fs.closeSync(fd);
    }
    return id;
  }

  /** create + start + wait + delete; a refusal by the runtime is returned as `error`. */
  async run(bundle: string, consoleSocket?: string): Promise<Outcome> {
    let id: string;
    try {
      id = await this.create(bundle, this.id(), consoleSocket);
    } catch (error) {
      return { error: error as Error };
    }
    try {
      await this.runtime.start(id);
    } catch (error) {
      await this.remove(id);
      return { error: error as Error };
    }
    const status = await this.runtime.wait(id);
    await this.remove(id);
    return { result: { ...status, ...this.output(id) } };
  }

  /** Runs an extra process in a container, waits for it; a refusal is returned as `error`. */
  async exec(id: string, args: string[], extra: { cwd?: string } = {}): Promise<Outcome> {
    const eid = `${id}-exec-${++seq}`;
    const f = this.files(eid);
    const o = fs.openSync(f.out, 'w');
    const e = fs.openSync(f.err, 'w');
    let handle;
    try {
      handle = await this.runtime.exec(id, { args, ...extra, stdio: { stdout: o, stderr: e } });
    } catch (error) {
      return { error: error as Error };
    } finally {
      fs.closeSync(o);
      fs.closeSync(e);
    }
    const status = await handle.wait();
    return { result: { ...status, ...this.output(eid) } };
  }

  /** Starts an extra process and returns without waiting (its output: `output(handle.id)`). */
  async execDetached(id: string, args: string[]): Promise<{ id: string; wait: () => Promise<ExitStatus>; kill: () => void }> {
    const eid = `${id}-exec-${++seq}`;
    const f = this.files(eid);
    const o = fs.openSync(f.out, 'w');
    const e = fs.openSync(f.err, 'w');
    try {
      const h = await this.runtime.exec(id, { args, stdio: { stdout: o, stderr: e } });
      return { id: eid, wait: () => h.wait(), kill: () => h.kill('SIGKILL') };
    } finally {
      fs.closeSync(o);
      fs.closeSync(e);
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.runtime.delete(id, { force: true });
    } catch {
      /* never created, or gone */
    }
    this.ids.delete(id);
  }

  async cleanup(): Promise<void> {
    for (const id of [...this.ids]) await this.remove(id);
    fs.rmSync(this.work, { recursive: true, force: true });
  }
}

/** The listing of a container's `/` as the busybox rootfs builder makes it (plus what a test adds). */
export const ROOTFS_TOP = ['bin', 'dev', 'etc', 'home', 'proc', 'root', 'sys', 'tmp'];
