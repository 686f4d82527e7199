/**
 * Teardown from the journal, and the proof that nothing is left. The same code runs at the end of a run
 * and at the start of the next one, so whatever a demo killed with -9 left behind (at any step) is
 * removed: containers (processes, cgroups, state), rootfs mounts, CNI attachments (veths, IP leases),
 * pinned network namespaces, snapshots, the image, the registry process and its storage. Every step
 * tolerates what is already gone, and a failing step does not stop the others.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isNotFound } from '@podkit/errdefs';
import { CniRunner, parseConfList } from '@podkit/cni-runner';
import { Runtime } from '@podkit/runtime-core';
import { inspectNetns, netnsExecCommand, unmount, unpinNetns } from '@podkit/runtime-core/sys';
import { REGISTRY_BIN } from '../images/registry';
import type { Journal } from './journal';
import { alive, cgroupProcs, findByArgv, foreignNamespaces, mountsUnder, mountTable, namespaceHolders } from './procfs';
import { openSnapshots, type DemoSnapshots } from './snapshots';

export const CNI_BIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];

export interface TeardownResult {
  /** Steps that failed (the teardown went on with the others). */
  errors: string[];
  /** What it removed, for the log. */
  removed: string[];
  /** Observed between the steps: lease files and veths after DEL, snapshots before removing the store. */
  leasesLeft: string[];
  vethsLeft: string[];
  snapshotsLeft: string[];
}

async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

function kill9(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* exited meanwhile */
  }
}

export function runtimeRoot(runDir: string): string {
  return path.join(runDir, 'runtime');
}

/** Host-side veths in a namespace (run through podkit-netns, never by entering it from Node). */
export function vethsIn(nsPath: string): string[] {
  const cmd = netnsExecCommand(nsPath, ['ip', '-o', 'link', 'show', 'type', 'veth']);
  const out = execFileSync(cmd.file, cmd.args, { encoding: 'utf8', env: { ...process.env, PATH: `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin` } });
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => (l.split(': ')[1] ?? '').split('@')[0] ?? '');
}

export function leaseFiles(ipamDir: string | undefined): string[] {
  if (!ipamDir) return [];
  const out: string[] = [];
  let nets: string[] = [];
  try {
    nets = fs.readdirSync(ipamDir);
  } catch {
    return [];
  }
  for (const n of nets) {
    try {
      for (const f of fs.readdirSync(path.join(ipamDir, n))) if (/^[\d.]+$|:/.test(f)) out.push(path.join(n, f));
    } catch {
      /* not a folder */
    }
  }
  return out;
}

export async function teardown(j: Journal, log: (line: string) => void = () => undefined): Promise<TeardownResult> {
  const res: TeardownResult = { errors: [], removed: [], leasesLeft: [], vethsLeft: [], snapshotsLeft: [] };
  const step = async (what: string, fn: () => Promise<void> | void): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      res.errors.push(`${what}: ${(err as Error).message}`);
      log(`teardown: ${what}: ${(err as Error).message}`);
    }
  };

  // 1. Containers, app containers first, then the pause container that holds the namespaces.
  const runtime = new Runtime({ root: runtimeRoot(j.runDir) });
  for (const c of [...j.containers].reverse()) {
    await step(`delete container ${c.id}`, async () => {
      try {
        await runtime.delete(c.id, { force: true });
        res.removed.push(`container ${c.id}`);
      } catch (err) {
        if (!isNotFound(err)) {
          // Killed while being created: the state folder may exist without a record. Kill what its cgroups hold.
          log(`teardown: container ${c.id}: ${(err as Error).message}; cleaning up by hand`);
        }
      }
      for (const dir of c.cgroupDirs) for (const pid of cgroupProcs(dir)) kill9(pid);
      for (const dir of c.cgroupDirs) {
        if (!(await until(() => cgroupProcs(dir).length === 0, 5000))) throw new Error(`cgroup ${dir} still has processes`);
        try {
          fs.rmdirSync(dir);
          res.removed.push(`cgroup ${dir}`);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
      fs.rmSync(path.join(runtimeRoot(j.runDir), c.id), { recursive: true, force: true });
    });
  }
  // Any other process the demo started, and any process still inside the pod's namespaces (a podkit-init
  // killed with the demo before it reached its cgroup): all of them are the demo's own.
  await step('stop recorded processes', async () => {
    const left = j.processes.filter(alive);
    for (const p of left) kill9(p.pid);
    const ours = foreignNamespaces(j.namespaces);
    const members = (): number[] => namespaceHolders(ours).filter((h) => h.via.includes('/ns/')).map((h) => h.pid);
    for (const pid of members()) kill9(pid);
    if (!(await until(() => j.processes.every((p) => !alive(p)) && members().length === 0, 5000))) {
      throw new Error('processes still alive after SIGKILL');
    }
  });

  // 2. The rootfs mounts (the composer mounted the snapshots; it unmounts them after delete).
  for (const c of j.containers) {
    await step(`unmount ${c.rootfs}`, async () => {
      for (let i = 0; i < 8; i++) {
        const ms = mountsUnder([c.bundle]);
        if (ms.length === 0) break;
        for (const m of ms.reverse()) {
          await unmount(m.mountPoint, { detach: true }).catch(() => undefined);
          res.removed.push(`mount ${m.mountPoint}`);
        }
      }
      if (mountsUnder([c.bundle]).length > 0) throw new Error('still mounted');
      fs.rmSync(c.bundle, { recursive: true, force: true });
    });
  }

  // 3. CNI DEL, in reverse order of ADD, with the plugins running in the demo's "host" namespace.
  const hostNs = j.netns[0];
  const hostOk = hostNs !== undefined && (await inspectNetns(hostNs).catch(() => undefined))?.isNetns === true;
  for (const a of [...j.cni].reverse()) {
    await step(`CNI DEL ${a.network} ${a.containerId}`, async () => {
      if (!hostOk) throw new Error('the host network namespace is gone; the attachment went with it');
      const runner = new CniRunner({ runDir: j.runDir, binDirs: CNI_BIN_DIRS, pluginNetns: hostNs });
      const podNs = j.netns[1] ?? '';
      await runner.del(parseConfList(Buffer.from(a.conflist), `journal cni ${a.network}`), { containerId: a.containerId, ifName: a.ifName, netns: podNs });
      res.removed.push(`attachment ${a.network}/${a.containerId}/${a.ifName}`);
    });
  }
  res.leasesLeft = leaseFiles(j.ipamDir);
  if (hostOk && hostNs) {
    await step('list veths in the host namespace', () => {
      res.vethsLeft = vethsIn(hostNs);
    });
  }

  // 4. Pinned namespaces: pod first, then the demo's host (its bridge goes with it).
  for (const ns of [...j.netns].reverse()) {
    await step(`remove netns ${ns}`, async () => {
      await unpinNetns(ns);
      res.removed.push(`netns ${ns}`);
    });
  }

  // 5. The containers' snapshots, then the image (and what only it used).
  if (j.imageStoreRoot && fs.existsSync(j.imageStoreRoot)) {
    let snaps: DemoSnapshots | undefined;
    await step('open the image store', async () => {
      snaps = await openSnapshots(j.imageStoreRoot as string);
    });
    if (snaps) {
      const s = snaps;
      await step('remove snapshots', async () => {
        for (const c of j.containers) if (await s.remove(c.snapshot)) res.removed.push(`snapshot ${c.snapshot}`);
      });
      await step('remove the image', async () => {
        for (const ref of j.images) if (await s.removeImage(ref)) res.removed.push(`image ${ref}`);
      });
      await step('list snapshots', async () => {
        res.snapshotsLeft = await s.remaining();
      });
      await s.close().catch(() => undefined);
    }
  }

  // 6. The registry process (found by its config path) and temporary folders.
  await step('stop the registry', async () => {
    const procs = j.registryConfigs.flatMap((cfg) => findByArgv([REGISTRY_BIN, 'serve', cfg]));
    for (const p of procs) kill9(p.pid);
    if (!(await until(() => procs.every((p) => !alive(p)), 5000))) throw new Error('registry still running');
    for (const d of j.tempDirs) fs.rmSync(d, { recursive: true, force: true });
  });

  // 7. The roots themselves (the journal stays until the proof says nothing is left).
  await step('remove folders', () => {
    if (j.ipamDir) fs.rmSync(j.ipamDir, { recursive: true, force: true });
    fs.rmSync(runtimeRoot(j.runDir), { recursive: true, force: true });
    for (const d of ['bundles', 'cni', 'netns']) {
      const p = path.join(j.runDir, d);
      if (mountsUnder([p]).length === 0) fs.rmSync(p, { recursive: true, force: true });
    }
    if (mountsUnder([j.dataDir]).length === 0) fs.rmSync(j.dataDir, { recursive: true, force: true });
  });
  return res;
}

export interface Leftover {
  kind: 'process' | 'mount' | 'namespace' | 'veth' | 'lease' | 'cgroup' | 'snapshot' | 'file';
  what: string;
}

/** Everything the journal names that still exists. Empty means the teardown left nothing. */
export function leftovers(j: Journal, t?: TeardownResult): Leftover[] {
  const out: Leftover[] = [];
  for (const p of j.processes) if (alive(p)) out.push({ kind: 'process', what: `${p.what} (pid ${p.pid})` });
  for (const cfg of j.registryConfigs) for (const p of findByArgv([REGISTRY_BIN, 'serve', cfg])) out.push({ kind: 'process', what: `docker-registry pid ${p.pid}` });
  for (const c of j.containers) for (const d of c.cgroupDirs) for (const pid of cgroupProcs(d)) out.push({ kind: 'process', what: `pid ${pid} in ${d}` });
  const table = mountTable();
  for (const m of mountsUnder([j.runDir, j.dataDir], table)) out.push({ kind: 'mount', what: `${m.fstype} at ${m.mountPoint}` });
  for (const m of table) {
    // An overlay whose layers live in the data dir, mounted anywhere else.
    if (m.fstype === 'overlay' && m.superOptions.some((o) => o.includes(j.dataDir))) out.push({ kind: 'mount', what: `overlay at ${m.mountPoint}` });
  }
  for (const h of namespaceHolders(foreignNamespaces(j.namespaces))) out.push({ kind: 'namespace', what: `${h.ns} held by ${h.via}` });
  for (const ns of j.netns) if (fs.existsSync(ns)) out.push({ kind: 'namespace', what: `pin file ${ns}` });
  for (const v of j.veths) if (fs.existsSync(path.join('/sys/class/net', v))) out.push({ kind: 'veth', what: `${v} in the machine's namespace` });
  for (const v of t?.vethsLeft ?? []) out.push({ kind: 'veth', what: `${v} in the demo's host namespace after DEL` });
  for (const l of t?.leasesLeft ?? []) out.push({ kind: 'lease', what: l });
  for (const l of leaseFiles(j.ipamDir)) out.push({ kind: 'lease', what: l });
  for (const c of j.containers) for (const d of c.cgroupDirs) if (fs.existsSync(d)) out.push({ kind: 'cgroup', what: d });
  for (const s of t?.snapshotsLeft ?? []) out.push({ kind: 'snapshot', what: s });
  if (fs.existsSync(j.dataDir)) out.push({ kind: 'snapshot', what: `data dir ${j.dataDir}` });
  for (const d of [...j.tempDirs, runtimeRoot(j.runDir), path.join(j.runDir, 'netns'), path.join(j.runDir, 'bundles')]) {
    if (fs.existsSync(d)) out.push({ kind: 'file', what: d });
  }
  return out;
}
