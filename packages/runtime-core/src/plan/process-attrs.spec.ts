import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FieldIssue } from '@podkit/errdefs';
import { defaultSpec, type Process, type Scheduler } from '@podkit/oci-spec';
import { buildCreatePlan, buildExecPlan } from './build';
import { cpuAffinityPlan, hostLsms, ioPriorityPlan, lsmIssues, parseCpuList, schedulerPlan } from './process-attrs';

const ctx = { bundle: '/b', execFifo: '/run/x/exec.fifo', cgroupMounts: [] };

function issues<T>(fn: (out: FieldIssue[]) => T): { value: T; paths: string[]; reasons: string[] } {
  const out: FieldIssue[] = [];
  const value = fn(out);
  return { value, paths: out.map((i) => i.path), reasons: out.map((i) => i.reason) };
}

describe('process.scheduler', () => {
  const plan = (s: Scheduler) => issues((out) => schedulerPlan(s, '/process', out));

  it('translates policies, nice, priority and flags for sched_setattr', () => {
    expect(plan({ policy: 'SCHED_BATCH', nice: 5 }).value).toEqual({ policy: 3, nice: 5, priority: 0, flags: 0, runtime: '0', deadline: '0', period: '0' });
    expect(plan({ policy: 'SCHED_FIFO', priority: 10, flags: ['SCHED_FLAG_RESET_ON_FORK'] }).value).toMatchObject({ policy: 1, priority: 10, flags: 1 });
    expect(plan({ policy: 'SCHED_IDLE' }).value).toMatchObject({ policy: 5 });
    expect(plan({ policy: 'SCHED_DEADLINE', runtime: 10_000_000, deadline: 30_000_000, period: 30_000_000, flags: ['SCHED_FLAG_RECLAIM', 'SCHED_FLAG_DL_OVERRUN'] }).value).toEqual({
      policy: 6, nice: 0, priority: 0, flags: 6, runtime: '10000000', deadline: '30000000', period: '30000000',
    });
  });

  it('refuses bad values with their field paths', () => {
    expect(plan({ policy: 'SCHED_ISO' }).paths).toEqual(['/process/scheduler/policy']);
    expect(plan({ policy: 'SCHED_ISO' }).reasons[0]).toMatch(/not implemented by Linux/);
    expect(plan({ policy: 'SCHED_OTHER', nice: 20 }).paths).toEqual(['/process/scheduler/nice']);
    expect(plan({ policy: 'SCHED_OTHER', nice: -21 }).paths).toEqual(['/process/scheduler/nice']);
    expect(plan({ policy: 'SCHED_RR' }).paths).toEqual(['/process/scheduler/priority']);
    expect(plan({ policy: 'SCHED_FIFO', priority: 100 }).paths).toEqual(['/process/scheduler/priority']);
    expect(plan({ policy: 'SCHED_OTHER', priority: 1 }).paths).toEqual(['/process/scheduler/priority']);
    expect(plan({ policy: 'SCHED_OTHER', runtime: 1, period: 2 }).paths).toEqual(['/process/scheduler/runtime', '/process/scheduler/period']);
    expect(plan({ policy: 'SCHED_DEADLINE' }).paths).toEqual(['/process/scheduler/runtime', '/process/scheduler/deadline']);
    expect(plan({ policy: 'SCHED_DEADLINE', runtime: 2_000_000, deadline: 1_000_000 }).paths).toEqual(['/process/scheduler/deadline']);
    expect(plan({ policy: 'SCHED_DEADLINE', runtime: 1_000_000, deadline: 2_000_000, period: 1_500_000 }).paths).toEqual(['/process/scheduler/period']);
    expect(plan({ policy: 'SCHED_DEADLINE', runtime: 10_000, deadline: 50_000 }).paths).toEqual(['/process/scheduler/deadline']);
    expect(plan({ policy: 'SCHED_DEADLINE', runtime: 10_000_000, deadline: 20_000_000, period: 5_000_000_000 }).paths).toEqual(['/process/scheduler/period']);
  });
});

describe('process.ioPriority', () => {
  it('translates the class names and keeps the level', () => {
    expect(issues((o) => ioPriorityPlan({ class: 'IOPRIO_CLASS_RT', priority: 0 }, '/process', o)).value).toEqual({ class: 1, priority: 0 });
    expect(issues((o) => ioPriorityPlan({ class: 'IOPRIO_CLASS_BE', priority: 7 }, '/process', o)).value).toEqual({ class: 2, priority: 7 });
    expect(issues((o) => ioPriorityPlan({ class: 'IOPRIO_CLASS_IDLE' }, '/process', o)).value).toEqual({ class: 3, priority: 0 });
  });

  it('refuses an unknown class or a level outside 0-7', () => {
    expect(issues((o) => ioPriorityPlan({ class: 'IOPRIO_CLASS_NONE' as 'IOPRIO_CLASS_BE', priority: 1 }, '/process', o)).paths).toEqual(['/process/ioPriority/class']);
    expect(issues((o) => ioPriorityPlan({ class: 'IOPRIO_CLASS_BE', priority: 8 }, '/process', o)).paths).toEqual(['/process/ioPriority/priority']);
    expect(issues((o) => ioPriorityPlan({ class: 'IOPRIO_CLASS_BE', priority: -1 }, '/process', o)).paths).toEqual(['/process/ioPriority/priority']);
  });
});

describe('process.execCPUAffinity', () => {
  it('parses CPU lists ("0-3,7"), sorted and unique; empty is unset', () => {
    expect(issues((o) => parseCpuList('0-3,7', 'f', o)).value).toEqual([0, 1, 2, 3, 7]);
    expect(issues((o) => parseCpuList('7,1,1-2', 'f', o)).value).toEqual([1, 2, 7]);
    expect(issues((o) => parseCpuList('', 'f', o)).value).toBeUndefined();
    expect(issues((o) => cpuAffinityPlan({ initial: '1', final: '' }, '/process', o)).value).toEqual({ initial: [1] });
    expect(issues((o) => cpuAffinityPlan({}, '/process', o)).value).toBeUndefined();
  });

  it('refuses malformed lists with the field path', () => {
    for (const bad of ['a', '1,', '-1', '3-1', '0 - 1', '1024', '0-2000', ' 1']) {
      expect(issues((o) => cpuAffinityPlan({ final: bad }, '/process', o)).paths).toEqual(['/process/execCPUAffinity/final']);
    }
    expect(issues((o) => cpuAffinityPlan({ initial: 'x' }, '/process', o)).paths).toEqual(['/process/execCPUAffinity/initial']);
  });

  it('reaches the plans of create and exec (the init applies it to exec processes only)', () => {
    const proc = (): Process => ({ ...defaultSpec({ terminal: false, args: ['sh'] }).process!, execCPUAffinity: { initial: '0', final: '0-1' }, scheduler: { policy: 'SCHED_BATCH' }, ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 3 } });
    const { plan } = buildExecPlan(proc(), 42, ['pid', 'mount']);
    expect(plan.process).toMatchObject({ cpuAffinity: { initial: [0], final: [0, 1] }, scheduler: { policy: 3 }, ioPriority: { class: 2, priority: 3 } });
    const created = buildCreatePlan({ ...defaultSpec({ terminal: false, args: ['sh'] }), process: proc() }, ctx).plan;
    expect(created.process.scheduler).toMatchObject({ policy: 3 });
  });
});

describe('LSM fields on a host without the LSM', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-lsm-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('reads what the host shows: /sys/module/apparmor, /sys/fs/selinux, /sys/kernel/security/lsm', () => {
    expect(hostLsms(root)).toMatchObject({ apparmor: false, selinux: false });
    fs.mkdirSync(path.join(root, 'sys/module/apparmor/parameters'), { recursive: true });
    fs.writeFileSync(path.join(root, 'sys/module/apparmor/parameters/enabled'), 'Y\n');
    fs.mkdirSync(path.join(root, 'sys/kernel/security'), { recursive: true });
    fs.writeFileSync(path.join(root, 'sys/kernel/security/lsm'), 'lockdown,capability,selinux\n');
    expect(hostLsms(root)).toMatchObject({ apparmor: true, selinux: true });
  });

  it('refuses apparmorProfile, selinuxLabel and mountLabel with the evidence in the message', () => {
    const r = issues((o) => lsmIssues({ cwd: '/', apparmorProfile: 'p', selinuxLabel: 'l' }, 'm', '/process', o, () => hostLsms(root)));
    expect(r.paths).toEqual(['/process/apparmorProfile', '/process/selinuxLabel', '/linux/mountLabel']);
    expect(r.reasons[0]).toMatch(/AppArmor is not enabled on this host \(\/sys\/module\/apparmor does not exist; \/sys\/kernel\/security\/lsm cannot be read/);
    expect(r.reasons[1]).toMatch(/SELinux is not enabled on this host \(\/sys\/fs\/selinux\/enforce does not exist/);
  });

  it('on this machine (no AppArmor, no SELinux) create and exec refuse them', () => {
    const h = hostLsms();
    if (h.apparmor || h.selinux) return; // another host: the messages differ, the fake-root test above covers them
    const s = defaultSpec({ terminal: false, args: ['sh'] });
    s.process!.apparmorProfile = 'docker-default';
    expect(() => buildCreatePlan(s, ctx)).toThrow(/AppArmor is not enabled on this host/);
    expect(() => buildExecPlan({ ...s.process!, selinuxLabel: 'system_u:system_r:container_t:s0' }, 1, [])).toThrow(/selinuxLabel/);
  });
});
