/**
 * Scheduling process attributes against the real kernel: process.scheduler (read back from
 * /proc/self/sched in the container), process.ioPriority (read from the host with util-linux's
 * `ionice -p`), process.execCPUAffinity (Cpus_allowed_list of an exec process), and
 * process.oomScoreAdj below the runtime's own (the kernel's refusal). Needs root.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { Spec } from '@podkit/oci-spec';
import { describeAsRoot } from '../test-support/priv';
import { suiteEnv } from '../test-support/run';

const describeRoot = describeAsRoot('sched.priv.spec', 'namespaces, mounts, cgroups');

/** `policy` and `prio` from the text of /proc/<pid>/sched. */
function schedOf(text: string): { policy: number; prio: number } {
  const field = (k: string) => Number(new RegExp(`^${k}\\s+:\\s+(-?\\d+)`, 'm').exec(text)?.[1]);
  return { policy: field('policy'), prio: field('prio') };
}

describeRoot('process scheduling attributes (privileged)', () => {
  const env = suiteEnv();

  const sched = async (mutate: (s: Spec) => void) => {
    const r = await env.run(env.spec(['cat', '/proc/self/sched'], mutate));
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    return schedOf(r.stdout);
  };

  it('applies SCHED_BATCH with a nice value, and SCHED_IDLE (policy and prio from /proc/self/sched)', async () => {
    expect(await sched((s) => (s.process!.scheduler = { policy: 'SCHED_BATCH', nice: 7 }))).toEqual({ policy: 3, prio: 127 });
    expect(await sched((s) => (s.process!.scheduler = { policy: 'SCHED_OTHER', nice: -5 }))).toEqual({ policy: 0, prio: 115 });
    expect((await sched((s) => (s.process!.scheduler = { policy: 'SCHED_IDLE' }))).policy).toBe(5);
  });

  it('applies SCHED_DEADLINE with runtime, deadline and period', async () => {
    const got = await sched((s) => (s.process!.scheduler = { policy: 'SCHED_DEADLINE', runtime: 2_000_000, deadline: 20_000_000, period: 20_000_000 }));
    // The kernel shows a deadline task with prio -1.
    expect(got).toEqual({ policy: 6, prio: -1 });
  });

  it('applies SCHED_FIFO given a realtime budget in the container\'s cpu cgroup (linux.resources.cpu.realtimeRuntime)', async () => {
    const got = await sched((s) => {
      s.process!.scheduler = { policy: 'SCHED_FIFO', priority: 10 };
      s.linux!.resources = { ...s.linux!.resources, cpu: { realtimePeriod: 1_000_000, realtimeRuntime: 50_000 } };
    });
    // prio of a realtime task: 99 - priority.
    expect(got).toEqual({ policy: 1, prio: 89 });
  });

  it('passes scheduler flags: with SCHED_FLAG_RESET_ON_FORK the realtime init\'s children start as SCHED_OTHER', async () => {
    const r = await env.sh('cat /proc/self/sched; cat /proc/1/sched; true', (s) => {
      s.process!.scheduler = { policy: 'SCHED_RR', priority: 20, flags: ['SCHED_FLAG_RESET_ON_FORK'] };
      s.linux!.resources = { ...s.linux!.resources, cpu: { realtimePeriod: 1_000_000, realtimeRuntime: 50_000 } };
    });
    expect(r).toMatchObject({ exitCode: 0, stderr: '' });
    const [child, init] = r.stdout.split(/(?=^cat \(|^sh \()/m).map(schedOf);
    expect(child).toEqual({ policy: 0, prio: 120 });
    expect(init).toEqual({ policy: 2, prio: 79 });
  });

  it('explains the EPERM of a realtime policy without a realtime budget (this kernel has realtime group scheduling)', async () => {
    expect(fs.existsSync('/sys/fs/cgroup/cpu/cpu.rt_runtime_us')).toBe(true);
    await expect(env.run(env.spec(['true'], (s) => (s.process!.scheduler = { policy: 'SCHED_RR', priority: 5 })))).rejects.toThrow(
      /sched_setattr: EPERM .*cpu\.rt_runtime_us > 0, set by linux\.resources\.cpu\.realtimeRuntime/,
    );
  });

  it.each([
    ['IOPRIO_CLASS_BE', 3, 'best-effort: prio 3'],
    ['IOPRIO_CLASS_RT', 0, 'realtime: prio 0'],
    ['IOPRIO_CLASS_IDLE', 0, 'idle'],
  ] as const)('applies ioPriority %s %d (ionice -p on the host)', async (cls, priority, shown) => {
    const c = await env.create(env.spec(['sleep', '1000'], (s) => (s.process!.ioPriority = { class: cls, priority })));
    try {
      const { pid } = env.runtime.state(c.id);
      expect(execFileSync('ionice', ['-p', String(pid)], { encoding: 'utf8' }).trim()).toBe(shown);
    } finally {
      await env.runtime.delete(c.id, { force: true });
    }
  });

  it('applies the scheduler and ioPriority of an exec process', async () => {
    const c = await env.create(env.spec(['sleep', '1000']));
    await env.runtime.start(c.id);
    let out = '';
    try {
      const ex = await env.exec(c.id, {
        process: { ...env.spec(['x']).process, args: ['cat', '/proc/self/sched'], scheduler: { policy: 'SCHED_BATCH', nice: 3 }, ioPriority: { class: 'IOPRIO_CLASS_IDLE', priority: 0 } },
      });
      expect(ex).toMatchObject({ exitCode: 0 });
      out = ex.stdout;
      // The I/O priority, read from the host while an exec'd sleep runs.
      const sleeper = await env.runtime.exec(c.id, { process: { ...env.spec(['x']).process, args: ['sleep', '1000'], ioPriority: { class: 'IOPRIO_CLASS_IDLE', priority: 0 } } });
      try {
        expect(execFileSync('ionice', ['-p', String(sleeper.pid)], { encoding: 'utf8' }).trim()).toBe('idle');
      } finally {
        sleeper.kill('SIGKILL');
        await sleeper.wait();
      }
    } finally {
      await env.runtime.delete(c.id, { force: true });
    }
    expect(schedOf(out)).toEqual({ policy: 3, prio: 123 });
  });

  describe('execCPUAffinity (uses CPUs 0 and 1)', () => {
    // The container's init keeps the CPUs of its cpuset, which it inherits from ours.
    let all = '';
    beforeAll(() => {
      expect(os.cpus().length).toBeGreaterThanOrEqual(2);
      all = /^Cpus_allowed_list:\s+(\S+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '';
      expect(all).toMatch(/^0-\d+$/);
    });

    const execAffinity = async (affinity: { initial?: string; final?: string } | undefined): Promise<string> => {
      const c = await env.create(env.spec(['sleep', '1000'], (s) => affinity && (s.process!.execCPUAffinity = affinity)));
      await env.runtime.start(c.id);
      try {
        // Bare args: the exec process is the config's process (with its execCPUAffinity) running grep.
        const ex = await env.exec(c.id, { args: ['grep', 'Cpus_allowed_list', '/proc/self/status', '/proc/1/status'] });
        expect(ex).toMatchObject({ exitCode: 0 });
        return ex.stdout.replace(/\t/g, ' ');
      } finally {
        await env.runtime.delete(c.id, { force: true });
      }
    };

    it('keeps `initial` through the move into the container\'s cgroups when there is no `final`', async () => {
      expect(await execAffinity({ initial: '1' })).toBe(`/proc/self/status:Cpus_allowed_list: 1\n/proc/1/status:Cpus_allowed_list: ${all}\n`);
    });

    it('sets `final` right before execve, and never touches the container\'s init', async () => {
      expect(await execAffinity({ initial: '1', final: '0' })).toBe(`/proc/self/status:Cpus_allowed_list: 0\n/proc/1/status:Cpus_allowed_list: ${all}\n`);
      expect(await execAffinity({ final: '0-1' })).toBe(`/proc/self/status:Cpus_allowed_list: 0-1\n/proc/1/status:Cpus_allowed_list: ${all}\n`);
    });
  });

  it('fails with the kernel\'s own error for an oomScoreAdj below the runtime\'s (the bounding set lacks CAP_SYS_RESOURCE)', async () => {
    // Lowering oom_score_adj below its minimum needs CAP_SYS_RESOURCE; without it the kernel's
    // __set_oom_adj answers EACCES.
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    const bnd = BigInt(`0x${/^CapBnd:\s+([0-9a-f]+)/m.exec(status)?.[1] ?? '0'}`);
    expect(bnd & (1n << 24n)).toBe(0n); // CAP_SYS_RESOURCE (24) is not in this machine's bounding set
    await expect(env.run(env.spec(['true'], (s) => (s.process!.oomScoreAdj = -500)))).rejects.toThrow(/^podkit-init \(oom-score-adj\): write: EACCES .*\/proc\/self\/oom_score_adj = -500/);
  });
});
