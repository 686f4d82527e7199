/**
 * The tutorial's pod from scratch, with podkit's engines and real processes:
 *
 *   1. a throwaway registry (docker-registry on 127.0.0.1) seeded with the busybox image tools/ builds,
 *      pulled with image-store;
 *   2. one writable overlay snapshot per container (pause, a0, a1) on the image's shared layers, mounted
 *      at each bundle's rootfs by this program (the composer), as containerd's shim does;
 *   3. a pinned pod network namespace attached with cni-runner (loopback, then bridge + host-local),
 *      the plugins running inside a "host" namespace made for the demo (the machine's network is
 *      never touched);
 *   4. the pause container (podkit-pause) with new cgroup, UTS, IPC, mount and PID namespaces in the pod
 *      namespace; a0 and a1 joining its network, IPC and UTS namespaces by path;
 *   5. the checks, printed as PASS/FAIL;
 *   6. teardown from the journal and the proof that nothing is left.
 *
 * Every object is recorded in the journal (journal.ts) before it is created, and the same teardown runs
 * at the start, so a run killed with -9 at any step is cleaned up by the next one.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FailedPreconditionError } from '@podkit/errdefs';
import { CniRunner, NetnsStore, parseConfList, runInNetns } from '@podkit/cni-runner';
import type { CniResult } from '@podkit/cni-runner';
import { defaultSpec, type LinuxNamespace, type Process, type Spec } from '@podkit/oci-spec';
import { Runtime } from '@podkit/runtime-core';
import { helperPath, inspectNetns, mountAll } from '@podkit/runtime-core/sys';
import { buildBusyboxLayout, skopeoPush } from '../images/busybox';
import { TestRegistry } from '../images/registry';
import { emptyJournal, JournalFile, type ContainerEntry, type Journal } from './journal';
import { alive, cgroupDirsFor, findByArgv, foreignNamespaces, nsIdentity, processRef } from './procfs';
import { openSnapshots, overlayDirs, type DemoSnapshots } from './snapshots';
import { CNI_BIN_DIRS, leftovers, runtimeRoot, teardown, type Leftover } from './teardown';

export const DEFAULT_RUN_DIR = '/run/podkit-demo';
export const DEFAULT_DATA_DIR = '/var/lib/podkit-demo';
export const POD_SUBNET = '10.88.77.0/24';
const HTTP_PORT = 8080;

export interface DemoOptions {
  runDir?: string;
  dataDir?: string;
  /** Where lines go (default stdout). */
  print?: (line: string) => void;
}

export interface DemoResult {
  passed: number;
  failed: number;
}

/** The PASS/FAIL lines and their count. */
class Checks {
  passed = 0;
  failed = 0;
  constructor(private readonly print: (l: string) => void) {}
  check(ok: boolean, what: string, detail?: string): boolean {
    if (ok) this.passed++;
    else this.failed++;
    this.print(`${ok ? 'PASS' : 'FAIL'} ${what}${detail ? ` (${detail})` : ''}`);
    return ok;
  }
}

export function ipInSubnet(ip: string, cidr: string): boolean {
  const [net, bits] = cidr.split('/');
  const n = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(bits));
  return Math.floor(n(ip) / size) === Math.floor(n(net ?? '') / size);
}

interface ExecResult {
  code: number | null;
  out: string;
  err: string;
}

export class PodDemo {
  readonly runDir: string;
  readonly dataDir: string;
  private readonly print: (l: string) => void;
  private readonly checks: Checks;
  private journal!: JournalFile;
  private runtime!: Runtime;
  private snaps?: DemoSnapshots;
  private registry?: TestRegistry;
  private execCount = 0;

  constructor(opts: DemoOptions = {}) {
    this.runDir = path.resolve(opts.runDir ?? DEFAULT_RUN_DIR);
    this.dataDir = path.resolve(opts.dataDir ?? DEFAULT_DATA_DIR);
    this.print = opts.print ?? ((l) => process.stdout.write(`${l}\n`));
    this.checks = new Checks(this.print);
  }

  private get j(): Journal {
    return this.journal.data;
  }

  /** Teardown of a journal plus one check per kind of leftover. Returns true when nothing is left. */
  private async cleanUp(j: Journal, label: string): Promise<boolean> {
    const t = await teardown(j, this.print);
    const counts = new Map<string, number>();
    for (const r of t.removed) {
      const kind = r.split(' ')[0] as string;
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
    }
    this.print(`removed: ${[...counts].map(([k, n]) => `${n} ${k}${n > 1 && !k.endsWith('s') ? 's' : ''}`).join(', ') || 'nothing'}`);
    const left = leftovers(j, t);
    const kinds: Array<[Leftover['kind'], string]> = [
      ['process', 'processes'],
      ['mount', 'mounts (rootfs overlays, netns pins, any bind of the netns dir)'],
      ['namespace', 'namespaces'],
      ['veth', 'veths'],
      ['lease', 'IP leases'],
      ['cgroup', 'cgroups'],
      ['snapshot', 'snapshots'],
      ['file', 'state folders'],
    ];
    for (const [kind, what] of kinds) {
      const l = left.filter((x) => x.kind === kind);
      this.checks.check(l.length === 0, `${label}: no ${what} left`, l.length ? l.map((x) => x.what).join('; ') : undefined);
    }
    for (const e of t.errors) this.print(`  teardown error: ${e}`);
    return left.length === 0;
  }

  /**
   * Tears down what a previous run left (killed with -9, or failed), as recorded in its journal. Returns
   * false when something could not be removed (the journal stays for another try).
   */
  private async cleanPrevious(): Promise<boolean> {
    const prev = JournalFile.read(this.runDir);
    if (!prev) return true;
    if (prev.data.owner.pid !== process.pid && alive(prev.data.owner)) {
      throw new FailedPreconditionError(`another demo (pid ${prev.data.owner.pid}) is using ${this.runDir}`);
    }
    this.print(`== cleanup: a previous run (pid ${prev.data.owner.pid}) left ${prev.file}; tearing it down`);
    if (!(await this.cleanUp(prev.data, 'previous run'))) return false;
    prev.remove();
    fs.rmSync(this.runDir, { recursive: true, force: true });
    return true;
  }

  /** Only the teardown of what a previous run left (`--cleanup`). */
  async cleanupOnly(): Promise<DemoResult> {
    if (!JournalFile.read(this.runDir)) this.print(`nothing to clean up: no journal in ${this.runDir}`);
    else await this.cleanPrevious();
    return { passed: this.checks.passed, failed: this.checks.failed };
  }

  async run(): Promise<DemoResult> {
    const me = processRef(process.pid, 'podkit demo');
    if (!me) throw new FailedPreconditionError('cannot read /proc/self/stat');
    this.print(`podkit demo: the tutorial's pod from scratch (state in ${this.runDir}, images and snapshots in ${this.dataDir})`);
    if (!(await this.cleanPrevious())) {
      this.checks.check(false, 'the previous run could not be cleaned up; not starting');
      return { passed: this.checks.passed, failed: this.checks.failed };
    }
    this.journal = new JournalFile(this.runDir, emptyJournal(this.runDir, this.dataDir, me));
    this.journal.record(() => undefined);
    this.runtime = new Runtime({ root: runtimeRoot(this.runDir) });
    try {
      await this.steps();
    } catch (err) {
      this.checks.check(false, 'the demo ran to the end', (err as Error).message);
    } finally {
      await this.snaps?.close().catch(() => undefined);
      await this.registry?.stop().catch(() => undefined);
    }
    this.print('== step 6: tear everything down and prove nothing is left');
    if (await this.cleanUp(this.j, 'teardown')) {
      this.journal.remove();
      fs.rmSync(this.runDir, { recursive: true, force: true });
    }
    this.print(`${this.checks.failed === 0 ? 'PASS' : 'FAIL'}: ${this.checks.passed} checks passed, ${this.checks.failed} failed`);
    return { passed: this.checks.passed, failed: this.checks.failed };
  }

  private async steps(): Promise<void> {
    const ref = await this.pullImage();
    const containers = await this.prepareRootfs(ref);
    const net = await this.attachNetwork();
    const pausePid = await this.runContainers(containers, net.nsPath);
    await this.verify(containers, net, pausePid);
  }

  // 1. Registry + image + pull.
  private async pullImage(): Promise<string> {
    this.print('== step 1: a throwaway registry with a busybox image; pull it with image-store');
    const reg = new TestRegistry();
    this.journal.record((j) => {
      j.tempDirs.push(reg.dir);
      j.registryConfigs.push(path.join(reg.dir, 'config.yml'));
    });
    this.registry = reg;
    await reg.start();
    for (const p of findByArgv(['/usr/bin/docker-registry', 'serve', path.join(reg.dir, 'config.yml')])) this.journal.record((j) => j.processes.push({ ...p, what: 'docker-registry' }));
    const layoutDir = path.join(reg.dir, 'layout');
    const layout = buildBusyboxLayout(layoutDir);
    const ref = `${reg.host}/podkit/busybox:demo`;
    skopeoPush(layout.dir, 'gzip', ref);
    this.print(`registry on ${reg.host}, pushed ${ref} (${layout.gzip.manifest.digest.slice(0, 19)}…, ${layout.gzip.layers.length} layers)`);
    const root = path.join(this.dataDir, 'images');
    this.journal.record((j) => {
      j.imageStoreRoot = root;
      j.images.push(ref);
    });
    this.snaps = await openSnapshots(root, { insecureRegistries: [reg.host] });
    const seen = new Map<string, string>();
    const t0 = Date.now();
    const rec = await this.snaps.store.pull(ref, {
      onProgress: (e) => {
        if (e.type === 'resolved') this.print(`pull: resolved ${e.name} to ${e.digest.slice(0, 19)}…`);
        else if (e.type === 'layer' && seen.get(e.digest) !== e.status) {
          seen.set(e.digest, e.status);
          if (e.status !== 'waiting') this.print(`pull: layer ${e.digest.slice(7, 19)} ${e.status} ${e.done}/${e.total} bytes`);
        }
      },
    });
    this.print(`pull: done in ${Date.now() - t0} ms, image id ${rec.id.slice(7, 19)}, ${rec.layers.length} layers`);
    this.checks.check(rec.id === layout.gzip.config.digest && rec.layers.length === layout.gzip.layers.length, 'pulled the image the registry serves', rec.id.slice(0, 19));
    // The registry is not needed any more.
    await reg.stop();
    this.registry = undefined;
    return ref;
  }

  // 2. Writable snapshots, mounted at each bundle's rootfs.
  private async prepareRootfs(ref: string): Promise<Map<string, ContainerEntry & { upper: string; lowers: string[] }>> {
    this.print('== step 2: one writable overlay snapshot per container on the shared image layers, mounted at rootfs');
    const snaps = this.snaps as DemoSnapshots;
    const tag = crypto.randomBytes(3).toString('hex');
    const out = new Map<string, ContainerEntry & { upper: string; lowers: string[] }>();
    for (const name of ['pause', 'a0', 'a1']) {
      const bundle = path.join(this.runDir, 'bundles', name);
      const entry: ContainerEntry = {
        id: `demo-${name}`,
        bundle,
        rootfs: path.join(bundle, 'rootfs'),
        snapshot: `podkit-demo-${name}`,
        cgroupsPath: `podkit-demo-${tag}-${name}`,
        cgroupDirs: cgroupDirsFor(`podkit-demo-${tag}-${name}`),
      };
      this.journal.record((j) => j.containers.push(entry));
      fs.mkdirSync(entry.rootfs, { recursive: true });
      const descs = await snaps.prepare(entry.snapshot, ref);
      await mountAll(descs, entry.rootfs);
      const dirs = overlayDirs(descs);
      out.set(name, { ...entry, upper: dirs.upper ?? '', lowers: dirs.lowers });
      this.print(`${name}: ${descs.map((d) => d.type).join('+')} at ${entry.rootfs}, upper ${dirs.upper}, ${dirs.lowers.length} lower layer(s)`);
    }
    const all = [...out.values()];
    const image = (await snaps.layerDirs(ref)).join(':');
    this.checks.check(
      image !== '' && all.every((c) => c.lowers.join(':') === image) && new Set(all.map((c) => c.upper)).size === all.length,
      "the three snapshots share the image's read-only layer snapshots and each has its own upper dir",
      `${image.split(':').length} layers`,
    );
    return out;
  }

  // 3. Namespaces and CNI.
  private async attachNetwork(): Promise<{ nsPath: string; ip: string; netIdent: string }> {
    this.print('== step 3: a pinned pod network namespace, attached with cni-runner inside a demo "host" namespace');
    const store = new NetnsStore(this.runDir);
    const hostNs = store.pathOf('host');
    const podNs = store.pathOf('pod');
    this.journal.record((j) => j.netns.push(hostNs));
    await store.add('host');
    const hostIdent = `net:[${(await inspectNetns(hostNs)).inode}]`;
    this.journal.record((j) => j.namespaces.push(...foreignNamespaces([hostIdent])));
    const lo = await runInNetns(hostNs, ['ip', 'link', 'set', 'lo', 'up'], 'ignore');
    if (lo !== 0) throw new Error(`ip link set lo up in the host namespace: exit ${lo}`);
    this.journal.record((j) => j.netns.push(podNs));
    await store.add('pod');
    const netIdent = `net:[${(await inspectNetns(podNs)).inode}]`;
    this.journal.record((j) => j.namespaces.push(...foreignNamespaces([netIdent])));
    this.print(`netns: host ${hostIdent} at ${hostNs}, pod ${netIdent} at ${podNs}`);

    const ipamDir = path.join(this.runDir, 'ipam');
    const loConf = { cniVersion: '1.0.0', name: 'podkit-demo-lo', plugins: [{ type: 'loopback' }] };
    const brConf = {
      cniVersion: '1.0.0',
      name: 'podkit-demo',
      plugins: [{ type: 'bridge', bridge: 'demo0', isGateway: true, ipMasq: false, ipam: { type: 'host-local', dataDir: ipamDir, ranges: [[{ subnet: POD_SUBNET }]] } }],
    };
    const runner = new CniRunner({ runDir: this.runDir, binDirs: CNI_BIN_DIRS, pluginNetns: hostNs });
    const attach = async (conf: object, ifName: string): Promise<CniResult> => {
      const text = JSON.stringify(conf);
      const list = parseConfList(Buffer.from(text), 'demo');
      this.journal.record((j) => {
        j.ipamDir = ipamDir;
        j.cni.push({ network: list.name, containerId: 'podkit-demo-pod', ifName, conflist: text });
      });
      return runner.add(list, { containerId: 'podkit-demo-pod', ifName, netns: podNs });
    };
    await attach(loConf, 'lo');
    const r = await attach(brConf, 'eth0');
    const hostVeths = (r.interfaces ?? []).filter((i) => !i.sandbox && i.name !== 'demo0').map((i) => i.name);
    this.journal.record((j) => j.veths.push(...hostVeths));
    const ip = (r.ips?.[0]?.address ?? '').split('/')[0] ?? '';
    this.print(`cni: loopback up; bridge demo0 in the host namespace, veth ${hostVeths.join(',')}; pod IP ${ip}`);
    return { nsPath: podNs, ip, netIdent };
  }

  private specFor(c: ContainerEntry, args: string[], env: string[], namespaces: LinuxNamespace[], mutate: (s: Spec) => void = () => undefined): void {
    const base = defaultSpec({ args, terminal: false });
    const s: Spec = {
      ...base,
      root: { path: 'rootfs', readonly: false },
      process: { ...(base.process as Process), env: ['PATH=/usr/local/bin:/bin', 'HOME=/root', ...env] },
      linux: { ...base.linux, cgroupsPath: c.cgroupsPath, namespaces },
    };
    mutate(s);
    fs.writeFileSync(path.join(c.bundle, 'config.json'), JSON.stringify(s, null, 2));
  }

  private async createAndStart(c: ContainerEntry): Promise<number> {
    const log = fs.openSync(path.join(c.bundle, 'init.log'), 'a');
    const nul = fs.openSync('/dev/null', 'r');
    try {
      await this.runtime.create(c.id, { bundle: c.bundle, stdio: { stdin: nul, stdout: log, stderr: log } });
    } finally {
      fs.closeSync(log);
      fs.closeSync(nul);
    }
    await this.runtime.start(c.id);
    const pid = this.runtime.state(c.id).pid;
    const ref = processRef(pid, `container ${c.id}`);
    const ns = foreignNamespaces(['net', 'ipc', 'uts', 'pid', 'mnt', 'cgroup'].map((t) => nsIdentity(pid, t)).filter((x): x is string => x !== undefined));
    this.journal.record((j) => {
      if (ref) j.processes.push(ref);
      for (const n of ns) if (!j.namespaces.includes(n)) j.namespaces.push(n);
    });
    return pid;
  }

  // 4. Containers.
  private async runContainers(cs: Map<string, ContainerEntry>, podNs: string): Promise<number> {
    this.print('== step 4: the pause container holds the pod namespaces; a0 and a1 join them by path');
    const pause = cs.get('pause') as ContainerEntry;
    fs.copyFileSync(helperPath('podkit-pause'), path.join(pause.rootfs, 'pause'));
    fs.chmodSync(path.join(pause.rootfs, 'pause'), 0o755);
    this.specFor(pause, ['/pause'], [], [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }, { type: 'network', path: podNs }], (s) => {
      s.hostname = 'podkit-demo';
      s.root = { path: 'rootfs', readonly: true };
    });
    const pausePid = await this.createAndStart(pause);
    this.print(`pause: pid ${pausePid}, ${['net', 'ipc', 'uts', 'pid', 'mnt', 'cgroup'].map((t) => nsIdentity(pausePid, t)).join(' ')}`);
    // Own PID and mount namespaces; the pod's network, IPC and UTS namespaces joined by path.
    const join: LinuxNamespace[] = [
      { type: 'pid' },
      { type: 'mount' },
      { type: 'network', path: `/proc/${pausePid}/ns/net` },
      { type: 'ipc', path: `/proc/${pausePid}/ns/ipc` },
      { type: 'uts', path: `/proc/${pausePid}/ns/uts` },
    ];
    const noHostname = (s: Spec): void => {
      delete s.hostname;
    };
    const a0 = cs.get('a0') as ContainerEntry;
    const server = `mkdir -p /www && echo "hello from a0 $TOKEN" > /www/index.html && exec httpd -f -p 127.0.0.1:${HTTP_PORT} -h /www`;
    this.specFor(a0, ['sh', '-c', server], [`TOKEN=${crypto.randomBytes(4).toString('hex')}`], join, noHostname);
    const a1 = cs.get('a1') as ContainerEntry;
    this.specFor(a1, ['sleep', '86400'], [], join, noHostname);
    for (const c of [a0, a1]) {
      const pid = await this.createAndStart(c);
      this.print(`${c.id}: pid ${pid}, ${['net', 'ipc', 'uts', 'pid', 'mnt'].map((t) => nsIdentity(pid, t)).join(' ')}`);
    }
    return pausePid;
  }

  private async exec(c: ContainerEntry, args: string[]): Promise<ExecResult> {
    const n = ++this.execCount;
    const outFile = path.join(c.bundle, `exec-${n}.out`);
    const errFile = path.join(c.bundle, `exec-${n}.err`);
    const o = fs.openSync(outFile, 'w');
    const e = fs.openSync(errFile, 'w');
    const nul = fs.openSync('/dev/null', 'r');
    let h;
    try {
      h = await this.runtime.exec(c.id, { args, stdio: { stdin: nul, stdout: o, stderr: e } });
    } finally {
      fs.closeSync(o);
      fs.closeSync(e);
      fs.closeSync(nul);
    }
    const st = await h.wait();
    const r = { code: st.exitCode, out: fs.readFileSync(outFile, 'utf8'), err: fs.readFileSync(errFile, 'utf8') };
    fs.rmSync(outFile);
    fs.rmSync(errFile);
    return r;
  }

  // 5. The checks.
  private async verify(
    cs: Map<string, ContainerEntry & { upper: string; lowers: string[] }>,
    net: { ip: string; netIdent: string },
    pausePid: number,
  ): Promise<void> {
    this.print('== step 5: checks');
    const [pause, a0, a1] = ['pause', 'a0', 'a1'].map((n) => cs.get(n) as ContainerEntry & { upper: string; lowers: string[] }) as [
      ContainerEntry & { upper: string; lowers: string[] },
      ContainerEntry & { upper: string; lowers: string[] },
      ContainerEntry & { upper: string; lowers: string[] },
    ];
    // Same network namespace, reported from inside each container.
    const ns: string[][] = [];
    for (const c of [pause, a0, a1]) ns.push((await this.exec(c, ['sh', '-c', 'for t in net ipc uts; do readlink /proc/self/ns/$t; done'])).out.trim().split('\n'));
    const inodes = ns.map((x) => x[0] ?? '');
    this.print(`net: ${inodes.map((x, i) => `${['pause', 'a0', 'a1'][i]}=${x}`).join(' ')}`);
    this.checks.check(inodes.every((x) => x === net.netIdent), `the three containers report the same network namespace ${net.netIdent}`, inodes.join(' '));
    const ipcUts = ns.map((x) => `${x[1] ?? ''} ${x[2] ?? ''}`);
    this.checks.check(ipcUts[1] === ipcUts[0] && ipcUts[2] === ipcUts[0] && ipcUts[0] !== ' ', "a0 and a1 joined the pause container's IPC and UTS namespaces", ipcUts[0]);
    const uts = await this.exec(a1, ['hostname']);
    this.checks.check(uts.out.trim() === 'podkit-demo', 'a1 shares the pause container UTS namespace (hostname podkit-demo)', uts.out.trim());
    const pidNs = (await this.exec(a0, ['readlink', '/proc/self/ns/pid'])).out.trim();
    this.checks.check(pidNs !== '' && pidNs !== nsIdentity(pausePid, 'pid'), 'a0 has its own PID namespace', pidNs);

    // Copy-on-write: a0's file lands in a0's upper dir only.
    const file = 'a0-was-here';
    const touched = await this.exec(a0, ['touch', `/${file}`]);
    const inA0Upper = fs.existsSync(path.join(a0.upper, file));
    const inLower = a0.lowers.some((l) => fs.existsSync(path.join(l, file)));
    const inOthers = [pause, a1].some((c) => fs.existsSync(path.join(c.upper, file)));
    const seenByA1 = (await this.exec(a1, ['test', '-e', `/${file}`])).code === 0;
    this.checks.check(
      touched.code === 0 && inA0Upper && !inLower && !inOthers && !seenByA1,
      `a0 touched /${file}: it is in a0's upper dir only, not in the lower layers, not in a1 (nor pause)`,
      `upper ${inA0Upper}, lower ${inLower}, other uppers ${inOthers}, seen by a1 ${seenByA1}`,
    );

    // a0 and a1 over localhost: httpd in a0, wget in a1 (polled with a deadline while httpd starts).
    let page: ExecResult = { code: null, out: '', err: '' };
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      // nc, not wget: busybox-static's wget crashes in glibc's resolver inside a bare rootfs (no NSS files).
      page = await this.exec(a1, ['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 127.0.0.1 ${HTTP_PORT}`]);
      if (page.code === 0 && page.out.includes('hello from a0 ')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const why = (): string => {
      let log = '';
      try {
        log = fs.readFileSync(path.join(a0.bundle, 'init.log'), 'utf8').trim().split('\n').slice(-3).join(' | ');
      } catch {
        /* no log */
      }
      return `nc exit ${page.code}: ${page.err.trim()}; a0 ${this.runtime.state(a0.id).status}, its log: ${log}`;
    };
    const body = /hello from a0 \w+/.exec(page.out)?.[0];
    this.checks.check(page.code === 0 && body !== undefined, 'a1 fetched a page from the server (httpd) in a0 over 127.0.0.1', body ?? why());

    // The pod's IP, from the range, on eth0 inside the pod.
    const addr = await this.exec(a0, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
    this.print(`pod IP: ${net.ip} (range ${POD_SUBNET})`);
    this.checks.check(
      net.ip !== '' && ipInSubnet(net.ip, POD_SUBNET) && addr.out.includes(` ${net.ip}/`),
      `the pod has its IP ${net.ip} from ${POD_SUBNET} on eth0`,
      addr.out.trim().replace(/\s+/g, ' '),
    );
  }
}
