/**
 * Intel RDT in the container lifecycle, with real busybox containers: create makes (or joins) the
 * CLOS group after the cgroups, writes its schemata and puts the init in its `tasks`; exec'd processes
 * join it; delete removes a group create made and leaves one it joined; a failed create removes what
 * it made. This machine has no resctrl mount, so the group lives in a fake resctrl tree
 * (intelrdt/fake-tree.ts) given to the Runtime; the real host path is checked for its refusal before
 * anything is created. Needs root.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isFailedPrecondition, isInvalidArgument } from '@podkit/errdefs';
import type { LinuxIntelRdt, Spec } from '@podkit/oci-spec';
import { hostBackend } from '../cgroups/backend';
import { makeFakeResctrl, type FakeResctrl } from '../intelrdt/fake-tree';
import { hostResctrlRoot } from '../intelrdt/resctrl';
import { rejectionOf } from '../test-support/errors';
import { describeAsRoot } from '../test-support/priv';
import { suiteEnv } from '../test-support/run';
import type { Runtime } from './runtime';

const describeRoot = describeAsRoot('intelrdt.priv.spec', 'namespaces, mounts, cgroups');

describeRoot('Intel RDT in the container lifecycle (fake resctrl tree, real containers)', () => {
  const env = suiteEnv();
  let t: FakeResctrl;
  let rt: Runtime;

  beforeEach(() => {
    t = makeFakeResctrl();
    rt = env.runtimeWith({ resctrl: { root: t.root, fs: t.fs } });
  });
  afterEach(async () => {
    await env.removeContainers();
    t.cleanup();
  });

  const nextId = () => env.nextId('rdt');

  /** A busybox config with its own cgroup beneath this process's (relative cgroupsPath). */
  function spec(args: string[], rdt: LinuxIntelRdt, mutate?: (s: Spec) => void): Spec {
    return env.spec(args, (s) => {
      s.linux = { ...s.linux, intelRdt: rdt };
      mutate?.(s);
    });
  }

  async function create(s: Spec, id: string, runtime: Runtime = rt): Promise<number> {
    return (await env.create(s, id, runtime)).pid;
  }

  const createFails = (s: Spec, id: string, runtime: Runtime = rt): Promise<Error> => rejectionOf(create(s, id, runtime), `create of ${id}`);

  const tasks = (group: string) => t.read(`${group}/tasks`).split('\n').filter(Boolean);
  /** Nothing left of a container: no state folder, no cgroup in any hierarchy. */
  function nothingLeft(runtime: Runtime, s: Spec, id: string): void {
    expect(fs.existsSync(runtime.store.dir(id))).toBe(false);
    const paths = hostBackend().backend.paths(s.linux?.cgroupsPath, id);
    expect(Object.values(paths).filter((p) => fs.existsSync(p))).toEqual([]);
  }

  it('create makes the group (named by the id), writes schemata and the init pid; exec joins; delete removes it', async () => {
    const id = nextId();
    const s = spec(['sleep', '1000'], { l3CacheSchema: 'L3:0=7f0;1=1f', memBwSchema: 'MB:0=20;1=70' });
    const pid = await create(s, id);
    const group = path.join(t.root, id);
    expect(rt.store.load(id).intelRdt).toEqual({ dir: group, created: true });
    expect(t.read(`${id}/schemata`)).toBe('L3:0=7f0;1=1f\nMB:0=20;1=70\n');
    expect(tasks(id)).toEqual([String(pid)]);
    // The pid in tasks is the container's init, in the container's cgroups too.
    expect(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toContain(`/${s.linux!.cgroupsPath as string}\n`);

    await rt.start(id);
    const ex = await env.exec(id, { args: ['true'] });
    expect(ex).toMatchObject({ exitCode: 0 });
    expect(tasks(id)).toEqual([String(pid), String(ex.pid)]);

    await rt.delete(id, { force: true });
    expect(fs.existsSync(group)).toBe(false);
    expect(fs.existsSync(rt.store.dir(id))).toBe(false);
    // The root group and its info are untouched.
    expect(t.read('schemata')).toBe('L3:0=fff;1=fff\nMB:0=100;1=100\n');
  });

  it('closID names the group; joining an existing group with the same schemata keeps it on delete', async () => {
    // A group made beforehand (by an administrator or another runtime).
    t.fs.mkdir(path.join(t.root, 'gold'));
    t.fs.write(path.join(t.root, 'gold', 'schemata'), 'L3:0=7f0\n');
    const id = nextId();
    const pid = await create(spec(['sleep', '1000'], { closID: 'gold', l3CacheSchema: 'L3:0=7f0' }), id);
    expect(rt.store.load(id).intelRdt).toEqual({ dir: path.join(t.root, 'gold'), created: false });
    expect(tasks('gold')).toEqual([String(pid)]);
    expect(fs.existsSync(path.join(t.root, id))).toBe(false);
    await rt.delete(id, { force: true });
    expect(fs.existsSync(path.join(t.root, 'gold'))).toBe(true);
    expect(t.read('gold/schemata')).toBe('L3:0=7f0;1=fff\nMB:0=100;1=100\n');
  });

  it('a closID group made by create is removed on delete', async () => {
    const id = nextId();
    await create(spec(['sleep', '1000'], { closID: 'silver', memBwSchema: 'MB:0=30' }), id);
    expect(rt.store.load(id).intelRdt).toEqual({ dir: path.join(t.root, 'silver'), created: true });
    expect(t.read('silver/schemata')).toBe('L3:0=fff;1=fff\nMB:0=30;1=100\n');
    await rt.delete(id, { force: true });
    expect(fs.existsSync(path.join(t.root, 'silver'))).toBe(false);
  });

  it('a closID group shared by two containers stays while the other one uses it (delete warns)', async () => {
    const a = nextId();
    const b = nextId();
    await create(spec(['sleep', '1000'], { closID: 'bronze', memBwSchema: 'MB:0=40' }), a);
    const pidB = await create(spec(['sleep', '1000'], { closID: 'bronze', memBwSchema: 'MB:0=40' }), b);
    expect([rt.store.load(a).intelRdt?.created, rt.store.load(b).intelRdt?.created]).toEqual([true, false]);
    const warnings = await rt.delete(a, { force: true });
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`^/linux/intelRdt: the CLOS group .*/bronze is left in place: other containers joined it by closID and still use it \\(tasks ${pidB}\\)$`))]);
    expect(fs.existsSync(path.join(t.root, 'bronze'))).toBe(true);
    // B joined the group; it never removes it (nothing records that A's create made it).
    expect(await rt.delete(b, { force: true })).toEqual([]);
    expect(fs.existsSync(path.join(t.root, 'bronze'))).toBe(true);
  });

  it('joining a group whose schemata differ fails naming /linux/intelRdt; nothing is left and the group stays', async () => {
    t.fs.mkdir(path.join(t.root, 'gold'));
    t.fs.write(path.join(t.root, 'gold', 'schemata'), 'L3:0=7f0\n');
    const id = nextId();
    const s = spec(['true'], { closID: 'gold', l3CacheSchema: 'L3:0=ff' });
    const err = await createFails(s, id);
    expect(isInvalidArgument(err)).toBe(true);
    expect(err.message).toMatch(/^\/linux\/intelRdt: the CLOS group gold exists with other schemata/);
    nothingLeft(rt, s, id);
    expect(tasks('gold')).toEqual([]);
    expect(fs.existsSync(path.join(t.root, 'gold'))).toBe(true);
  });

  it('schemata the kernel refuses: the error has its reason (info/last_cmd_status); no group, state or cgroup is left', async () => {
    const id = nextId();
    const s = spec(['true'], { l3CacheSchema: 'L3:7=ff' });
    const err = await createFails(s, id);
    expect(isInvalidArgument(err)).toBe(true);
    expect(err.message).toMatch(/^\/linux\/intelRdt: the kernel refused the schemata "L3:7=ff" \(EINVAL: Unknown domain id 7\)/);
    nothingLeft(rt, s, id);
    expect(fs.existsSync(path.join(t.root, id))).toBe(false);
  });

  it('a create that fails after the init joined the group (createRuntime hook fails) removes the group', async () => {
    const id = nextId();
    // The hook (in the runtime's namespaces) copies the group's tasks, then fails.
    const seen = path.join(env.bundle.dir, 'seen-tasks');
    const hook = path.join(env.bundle.dir, 'hook.sh');
    fs.writeFileSync(hook, `#!/bin/sh\ncat "${path.join(t.root, id, 'tasks')}" > "${seen}"\nexit 1\n`, { mode: 0o755 });
    const s = spec(['true'], { memBwSchema: 'MB:0=50' }, (x) => void (x.hooks = { createRuntime: [{ path: hook }] }));
    const err = await createFails(s, id);
    expect(isFailedPrecondition(err)).toBe(true);
    // The init was in the group before the createRuntime hooks ran (as runc applies intelRdt first).
    expect(fs.readFileSync(seen, 'utf8')).toMatch(/^\d+\n$/);
    nothingLeft(rt, s, id);
    expect(fs.existsSync(path.join(t.root, id))).toBe(false);
  });

  it('a bad intelRdt is refused before anything is created (bad closID, MBA missing from info/)', async () => {
    const noMba = makeFakeResctrl({ mba: false });
    try {
      const r2 = env.runtimeWith({ resctrl: { root: noMba.root, fs: noMba.fs } });
      const id = nextId();
      const s = spec(['true'], { memBwSchema: 'MB:0=50' });
      const err = await createFails(s, id, r2);
      expect(isInvalidArgument(err)).toBe(true);
      expect(err.message).toMatch(/\/linux\/intelRdt\/memBwSchema: Intel RDT memory bandwidth allocation \(MBA\) is not enabled here/);
      nothingLeft(r2, s, id);
      const id2 = nextId();
      const s2 = spec(['true'], { closID: '../x' });
      expect((await createFails(s2, id2)).message).toMatch(/\/linux\/intelRdt\/closID: must be a plain folder name/);
      nothingLeft(rt, s2, id2);
    } finally {
      noMba.cleanup();
    }
  });

  it('this host: without a resctrl mount a config with intelRdt fails with the clear error, before anything is created', async () => {
    if (hostResctrlRoot() !== undefined) {
      console.warn('intelrdt.priv.spec: resctrl is mounted on this host; the "not mounted" refusal is covered by intelrdt/resctrl.spec.ts only');
      return;
    }
    const host = env.runtime;
    const id = nextId();
    const s = spec(['true'], { closID: 'gold', l3CacheSchema: 'L3:0=7f0' });
    const err = await createFails(s, id, host);
    expect(isInvalidArgument(err)).toBe(true);
    expect(err.message).toMatch(/\/linux\/intelRdt: resctrl is not mounted/);
    nothingLeft(host, s, id);
    expect(host.list().map((c) => c.id)).not.toContain(id);
  });
});
