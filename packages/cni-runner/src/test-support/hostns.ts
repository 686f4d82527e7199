/**
 * A private "host" for privileged tests: a pinned network namespace with loopback up, a temporary run
 * folder and a host-local data folder. Plugins run inside it (the runner's pluginNetns), so nothing
 * touches the machine's own interfaces, routes or firewall, and removing the namespace takes the bridge,
 * the veths and every iptables rule with it.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { netnsExecCommand } from '@podkit/runtime-core/sys';
import { NetnsStore } from '../netns';

let counter = 0;

/** A name unique to this process and call (pid + counter). */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}${process.pid}x${counter}`;
}

export function runIn(nsPath: string, argv: string[]): string {
  const cmd = netnsExecCommand(nsPath, argv);
  return execFileSync(cmd.file, cmd.args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export const PLUGIN_ENV: NodeJS.ProcessEnv = { ...process.env, PATH: `${process.env['PATH'] ?? '/usr/bin:/bin'}:/usr/sbin:/sbin` };

export class TestHost {
  readonly runDir: string;
  readonly dataDir: string;
  readonly store: NetnsStore;
  hostNs = '';
  private readonly pods = new Set<string>();

  constructor() {
    this.runDir = fs.mkdtempSync(path.join(os.tmpdir(), `podkit-cnipriv-${process.pid}-`));
    this.dataDir = path.join(this.runDir, 'ipam');
    fs.mkdirSync(this.dataDir);
    this.store = new NetnsStore(this.runDir);
  }

  async start(): Promise<this> {
    this.hostNs = (await this.store.add(uniqueName('host'))).path;
    runIn(this.hostNs, ['ip', 'link', 'set', 'lo', 'up']);
    return this;
  }

  async pod(): Promise<string> {
    const ns = await this.store.add(uniqueName('pod'));
    this.pods.add(ns.name);
    return ns.path;
  }

  async removePod(nsPath: string): Promise<void> {
    const name = path.basename(nsPath);
    await this.store.rm(name);
    this.pods.delete(name);
  }

  /** Removes every namespace (pods first, then the host) and the temp folder; safe to call after failures. */
  async stop(): Promise<void> {
    for (const ns of await this.store.list().catch(() => [])) await this.store.rm(ns.name).catch(() => undefined);
    fs.rmSync(this.runDir, { recursive: true, force: true });
  }

  /** Files of host-local's store for a network that hold a lease (named by IP). */
  leases(network: string): string[] {
    const d = path.join(this.dataDir, network);
    if (!fs.existsSync(d)) return [];
    return fs.readdirSync(d).filter((f) => /^[0-9a-f.:]+$/.test(f) && (f.includes('.') || f.includes(':')));
  }

  iptablesSave(): string {
    return runIn(this.hostNs, ['iptables-save'])
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/\[\d+:\d+\]/g, '[0:0]'))
      .join('\n');
  }

  hostLinks(): string[] {
    return runIn(this.hostNs, ['ip', '-o', 'link', 'show'])
      .split('\n')
      .filter(Boolean)
      .map((l) => (l.split(': ')[1] ?? '').split('@')[0] ?? '');
  }
}

export function bridgeConfList(network: string, dataDir: string, cniVersion = '1.0.0'): string {
  return JSON.stringify({
    cniVersion,
    name: network,
    plugins: [
      {
        type: 'bridge',
        bridge: 'pkbr0',
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.88.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'loopback' },
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
      { type: 'firewall', backend: 'iptables' },
      { type: 'tuning', sysctl: { 'net.core.somaxconn': '512' } },
    ],
  });
}
