/**
 * The OCI runtime library: the lifecycle verbs with a state root, for use from a running Node
 * process (podkitd, tests, tools). Containers created here are children of this process, so their
 * exits are watched (on a native thread) and `wait` returns the real exit status.
 */
import * as fs from 'node:fs';
import { FailedPreconditionError } from '@podkit/errdefs';
import { parseSignal, pidfdSignal, watchExit, type ExitStatus } from '../sys/process';
import type { LinuxResources } from '@podkit/oci-spec';
import { pause, pids, resume, stats, update } from './control';
import { create, type CreateOptions } from './create';
import { deleteContainer } from './delete';
import { exec, type ExecOptions } from './exec';
import { kill } from './kill';
import { list, state, type ContainerState } from './query';
import { start } from './start';
import { DEFAULT_ROOT, StateStore } from './store';
import type { ResctrlHost } from '../intelrdt/resctrl';

export interface RuntimeOptions {
  /** State folder (default /run/podkit/runtime). */
  root?: string;
  /** (rdt) Intel RDT: where resctrl is (default: this host's mount; tests: a fake tree, intelrdt/fake-tree.ts). */
  resctrl?: ResctrlHost;
}

interface Child {
  pidfd: number;
  exited: Promise<ExitStatus>;
}

export interface ExecHandle {
  pid: number;
  warnings: string[];
  /** Resolves with the process's exit status. */
  wait(): Promise<ExitStatus>;
  kill(signal?: number | string): void;
}

export class Runtime {
  readonly store: StateStore;
  private readonly children = new Map<string, Child>();
  /** (rdt) Given to create, exec and delete. */
  private readonly resctrl: { resctrl?: ResctrlHost };

  constructor(opts: RuntimeOptions = {}) {
    this.store = new StateStore(opts.root ?? DEFAULT_ROOT);
    this.resctrl = opts.resctrl ? { resctrl: opts.resctrl } : {};
  }

  /** Creates the container; returns once its init is blocked on the exec FIFO. */
  async create(id: string, opts: CreateOptions = {}): Promise<{ state: ContainerState; warnings: string[] }> {
    const created = await create(this.store, id, { ...this.resctrl, ...opts });
    const { exited } = watchExit(created.pidfd);
    this.children.set(id, { pidfd: created.pidfd, exited });
    return { state: state(this.store, id), warnings: created.warnings };
  }

  /** Returns warnings (failed poststart hooks). */
  start(id: string): Promise<string[]> {
    return start(this.store, id);
  }

  state(id: string): ContainerState {
    return state(this.store, id);
  }

  list(): ContainerState[] {
    return list(this.store);
  }

  kill(id: string, signal: number | string = 'SIGTERM', opts: { all?: boolean } = {}): Promise<void> {
    return kill(this.store, id, parseSignal(signal), opts);
  }

  pause(id: string): Promise<void> {
    return pause(this.store, id);
  }

  resume(id: string): Promise<void> {
    return resume(this.store, id);
  }

  /** Pids of the container's processes (host pid namespace). */
  pids(id: string): number[] {
    return pids(this.store, id);
  }

  update(id: string, resources: LinuxResources): void {
    update(this.store, id, resources);
  }

  stats(id: string): Record<string, unknown> {
    return stats(this.store, id);
  }

  /** The exit status of a container this Runtime created. */
  async wait(id: string): Promise<ExitStatus> {
    const child = this.children.get(id);
    if (!child) throw new FailedPreconditionError(`container "${id}" was not created by this process; its exit status is not available here`);
    return child.exited;
  }

  /** Returns warnings (failed poststop hooks). */
  async delete(id: string, opts: { force?: boolean } = {}): Promise<string[]> {
    const child = this.children.get(id);
    const warnings = await deleteContainer(this.store, id, { ...this.resctrl, ...opts, exited: child?.exited });
    if (child) {
      await child.exited;
      fs.closeSync(child.pidfd);
      this.children.delete(id);
    }
    return warnings;
  }

  /** Runs an extra process in the container. */
  async exec(id: string, opts: ExecOptions): Promise<ExecHandle> {
    const r = await exec(this.store, id, { ...this.resctrl, ...opts });
    const { exited } = watchExit(r.pidfd);
    const pidfd = r.pidfd;
    let closed = false;
    void exited.then(() => {
      closed = true;
      fs.closeSync(pidfd);
    });
    return {
      pid: r.pid,
      warnings: r.warnings,
      wait: () => exited,
      kill: (signal: number | string = 'SIGTERM') => {
        if (!closed) pidfdSignal(pidfd, parseSignal(signal));
      },
    };
  }
}
