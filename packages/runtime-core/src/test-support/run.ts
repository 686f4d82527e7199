/** Test helper: run a container from a spec through the library and collect its output and exit status. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Spec } from '@podkit/oci-spec';
import { Runtime } from '../container/runtime';
import type { ExitStatus } from '../sys/process';
import { makeBundle, type TestBundle } from './bundle';

export interface RunResult extends ExitStatus {
  stdout: string;
  stderr: string;
}

let counter = 0;

export class TestEnv {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-state-'));
  readonly runtime = new Runtime({ root: this.root });
  readonly bundle: TestBundle = makeBundle();
  private readonly ids = new Set<string>();

  nextId(prefix = 'c'): string {
    const id = `${prefix}-${process.pid}-${++counter}`;
    this.ids.add(id);
    return id;
  }

  spec(args: string[], mutate?: (s: Spec) => void): Spec {
    const s = this.bundle.spec(args);
    // Tests must not leave cgroups beside the test process's: relative, beneath our own.
    s.linux = { ...s.linux, cgroupsPath: `podkit-test-${process.pid}-${++counter}` };
    mutate?.(s);
    return s;
  }

  /** Creates a container with stdout/stderr captured into files. */
  async create(spec: Spec, id = this.nextId()): Promise<{ id: string; output: () => { stdout: string; stderr: string } }> {
    this.ids.add(id);
    this.bundle.write(spec);
    const out = path.join(this.bundle.dir, `${id}.out`);
    const err = path.join(this.bundle.dir, `${id}.err`);
    const ofd = fs.openSync(out, 'w');
    const efd = fs.openSync(err, 'w');
    try {
      await this.runtime.create(id, { bundle: this.bundle.dir, stdio: { stdout: ofd, stderr: efd } });
    } finally {
      fs.closeSync(ofd);
      fs.closeSync(efd);
    }
    return { id, output: () => ({ stdout: fs.readFileSync(out, 'utf8'), stderr: fs.readFileSync(err, 'utf8') }) };
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

  async cleanup(): Promise<void> {
    for (const id of this.ids) {
      try {
        await this.runtime.delete(id, { force: true });
      } catch {
        /* not created, or deleted already */
      }
    }
    fs.rmSync(this.root, { recursive: true, force: true });
    this.bundle.cleanup();
  }
}
