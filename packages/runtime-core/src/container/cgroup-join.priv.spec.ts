/**
 * Cgroup placement on cgroup v1: a container's init and an exec'd process join every hierarchy of the
 * container themselves, through `tasks` fds the runtime opened (native/src/init/cgjoin.h: no RCU grace
 * period); with prestart/createRuntime hooks the runtime places the init before running them, so the
 * hooks find it in its cgroups, as with runc. The helper is spawned while the cgroups are made, and a
 * failure there leaves nothing behind.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hostBackend } from '../cgroups/backend';
import { describeAsRoot } from '../test-support/priv';
import { suiteEnv } from '../test-support/run';

const describeV1 = describeAsRoot('cgroup-join.priv.spec', 'cgroups', () => (hostBackend().backend.version === 1 ? undefined : 'this host has no cgroup v1 hierarchies'));

/** /proc/<pid>/cgroup as {hierarchy name: path}, named as cgroupPaths names them (`systemd` for name=systemd). */
function cgroupsOf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]+):(.*)$/.exec(line);
    if (!m) continue;
    for (const c of (m[1] as string).split(',')) out[c.replace(/^name=/, '')] = m[2] as string;
  }
  return out;
}

/** Whether the process's cgroup in each of the container's hierarchies is the container's folder. */
function inContainerCgroups(cgroups: Record<string, string>, paths: Record<string, string>): Record<string, boolean> {
  return Object.fromEntries(Object.entries(paths).map(([h, dir]) => [h, cgroups[h] !== undefined && cgroups[h] !== '/' && dir.endsWith(cgroups[h] as string)]));
}

const all = (paths: Record<string, string>) => Object.fromEntries(Object.keys(paths).map((h) => [h, true]));

/** This process's children (zombies too): pid and command. */
function children(): string[] {
  const out: string[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${p}/stat`, 'latin1');
    } catch {
      continue;
    }
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[1]) === process.pid) out.push(`${p} ${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))} ${rest[0]}`);
  }
  return out;
}

describeV1('cgroup v1 placement', () => {
  const env = suiteEnv();

  it('puts the created init and an exec in every hierarchy of the container', async () => {
    const c = await env.create(env.spec(['sleep', '1000']));
    const paths = env.runtime.store.load(c.id).cgroupPaths;
    expect(Object.keys(paths).length).toBeGreaterThan(3);
    const pid = env.runtime.state(c.id).pid;
    expect(inContainerCgroups(cgroupsOf(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8')), paths)).toEqual(all(paths));
    await env.runtime.start(c.id);
    const h = await env.runtime.exec(c.id, { args: ['sleep', '1000'] });
    try {
      expect(inContainerCgroups(cgroupsOf(fs.readFileSync(`/proc/${h.pid}/cgroup`, 'utf8')), paths)).toEqual(all(paths));
    } finally {
      h.kill('SIGKILL');
      await h.wait();
    }
    await env.runtime.delete(c.id, { force: true });
  });

  it('a create that fails while its helper starts (a limit the kernel refuses) leaves no helper, cgroup or state', async () => {
    // The helper is spawned while the cgroups are made; cpuset.cpus of a CPU this machine lacks fails there.
    const s = env.spec(['true'], (x) => (x.linux!.resources = { ...x.linux!.resources, cpu: { cpus: '4095' } }));
    const before = children();
    await expect(env.create(s)).rejects.toThrow(/\/linux\/resources\/cpu\/cpus/);
    expect(children()).toEqual(before);
    expect(fs.readdirSync(env.root)).toEqual([]);
    const { backend } = hostBackend();
    for (const dir of Object.values(backend.paths(s.linux!.cgroupsPath, 'x'))) expect([dir, fs.existsSync(dir)]).toEqual([dir, false]);
  });

  it('places the init before the createRuntime hooks run, so they see it in its cgroups', async () => {
    const seen = path.join(env.bundle.dir, 'hook-saw-cgroup');
    const c = await env.create(
      env.spec(['true'], (s) => {
        // The hook reads the state on stdin and copies /proc/<pid>/cgroup of the container's process.
        s.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', `pid=$(sed -n 's/.*"pid":\\([0-9]*\\).*/\\1/p'); cat /proc/$pid/cgroup > ${seen}`] }] };
      }),
    );
    const paths = env.runtime.store.load(c.id).cgroupPaths;
    expect(inContainerCgroups(cgroupsOf(fs.readFileSync(seen, 'utf8')), paths)).toEqual(all(paths));
    await env.runtime.delete(c.id, { force: true });
  });
});
