/** Test helper: run a container from a spec through the library and collect its output and exit status. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Spec } from '@podkit/oci-spec';
import type { ExecOptions } from '../container/exec';
import { Runtime, type RuntimeOptions } from '../container/runtime';
import type { ExitStatus } from '../sys/process';
import { makeBundle, type TestBundle } from './bundle';

export interface RunResult extends ExitStatus {
  stdout: string;
  stderr: string;
}

export interface Created {
  id: string;
  /** The container's init. */
  pid: number;
  warnings: string[];
  output: () => { stdout: string; stderr: string };
}

let counter = 0;

/**
 * A state folder, a Runtime on it and a busybox bundle, made on first use (so a skipped suite makes
 * nothing); `cleanup` force-deletes every container made through it, with the runtime that made it.
 */
export class TestEnv {
  private made?: { root: string; runtime: Runtime; bundle: TestBundle };
  /** The containers made through this env, with the runtime that made each. */
  private readonly ids = new Map<string, Runtime | undefined>();

  private parts(): { root: string; runtime: Runtime; bundle: TestBundle } {
    if (!this.made) {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-state-'));
      this.made = { root, runtime: new Runtime({ root }), bundle: makeBundle() };
    }
    return this.made;
  }

  get root(): string {
    return this.parts().root;
  }

  get runtime(): Runtime {
    return this.parts().runtime;
  }

  get bundle(): TestBundle {
    return this.parts().bundle;
  }

  /** Another Runtime on the same state folder, with other options (a fake resctrl tree). */
  runtimeWith(opts: Omit<RuntimeOptions, 'root'>): Runtime {
    return new Runtime({ ...opts, root: this.root });
  }

  nextId(prefix = 'c'): string {
    const id = `${prefix}-${process.pid}-${++counter}`;
    if (!this.ids.has(id)) this.ids.set(id, undefined);
    return id;
  }

  spec(args: string[], mutate?: (s: Spec) => void): Spec {
    const s = this.bundle.spec(args);
    // Tests must not leave cgroups beside the test process's: relative, beneath our own.
    s.linux = { ...s.linux, cgroupsPath: `podkit-test-${process.pid}-${++counter}` };
    mutate?.(s);
    return s;
  }

  /** Creates a container with stdout/stderr captured into files (through `runtime`, default this env's). */
  async create(spec: Spec, id = this.nextId(), runtime: Runtime = this.runtime): Promise<Created> {
    this.ids.set(id, runtime);
    this.bundle.write(spec);
    const capture = this.capture(id);
    let created: Awaited<ReturnType<Runtime['create']>>;
    try {
      created = await runtime.create(id, { bundle: this.bundle.dir, stdio: capture.stdio });
    } finally {
      capture.close();
    }
    return { id, pid: created.state.pid as number, warnings: created.warnings, output: capture.output };
  }

  /** Runs an exec process in container `id` with stdout/stderr captured into files, and waits for it. */
  async exec(id: string, opts: Omit<ExecOptions, 'stdio'>): Promise<RunResult & { pid: number }> {
    const capture = this.capture(`${id}-exec-${++counter}`);
    let h: Awaited<ReturnType<Runtime['exec']>>;
    try {
      h = await (this.ids.get(id) ?? this.runtime).exec(id, { ...opts, stdio: capture.stdio });
    } finally {
      capture.close();
    }
    const status = await h.wait();
    return { ...status, pid: h.pid, ...capture.output() };
  }

  /** create + start + wait + delete. */
  async run(spec: Spec): Promise<RunResult> {
    const c = await this.create(spec);
    await this.runtime.start(c.id);
    const status = await this.runtime.wait(c.id);
    await this.runtime.delete(c.id);
    this.ids.delete(c.id);
    return { ...status, ...c.output() };
  }

  /** Runs `sh -c script` with optional changes to the spec. */
  async sh(script: string, mutate?: (s: Spec) => void): Promise<RunResult> {
    return this.run(this.spec(['sh', '-c', script], mutate));
  }

  /** Force-deletes the containers made so far (ignoring those never created or deleted already). */
  async removeContainers(): Promise<void> {
    for (const [id, runtime] of this.ids) {
      try {
        await (runtime ?? this.runtime).delete(id, { force: true });
      } catch {
        /* not created, or deleted already */
      }
    }
    this.ids.clear();
  }

  async cleanup(): Promise<void> {
    if (!this.made) return;
    await this.removeContainers();
    fs.rmSync(this.made.root, { recursive: true, force: true });
    this.made.bundle.cleanup();
  }

  /** Files in the bundle folder that take a process's stdout and stderr. */
  private capture(name: string): { stdio: { stdout: number; stderr: number }; close: () => void; output: () => { stdout: string; stderr: string } } {
    const out = path.join(this.bundle.dir, `${name}.out`);
    const err = path.join(this.bundle.dir, `${name}.err`);
    const stdio = { stdout: fs.openSync(out, 'w'), stderr: fs.openSync(err, 'w') };
    return {
      stdio,
      close: () => {
        fs.closeSync(stdio.stdout);
        fs.closeSync(stdio.stderr);
      },
      output: () => ({ stdout: fs.readFileSync(out, 'utf8'), stderr: fs.readFileSync(err, 'utf8') }),
    };
  }
}

/**
 * The TestEnv of the enclosing describe: made on first use and cleaned up after the suite's tests.
 * Call it in the describe body.
 */
export function suiteEnv(): TestEnv {
  const env = new TestEnv();
  afterAll(() => env.cleanup());
  return env;
}
