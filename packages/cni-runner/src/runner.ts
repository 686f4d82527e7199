/**
 * The CNI runner, modelled on libcni's CNIConfig: runs a network configuration list's plugins for one
 * attachment (ADD in order with `prevResult` threaded through, DEL in reverse, CHECK with the cached
 * result), asks plugins for their versions, STATUS and GC (1.1.0), and keeps the result cache.
 *
 * Version gates follow the spec: CHECK and the cached result on DEL from 0.4.0, STATUS and GC from 1.1.0.
 * For networks older than 1.1.0, GC is what libcni does: DEL of every cached attachment that is not in
 * the valid list.
 */
import * as path from 'node:path';
import { InternalError, invalidField, NotFoundError, UnimplementedError, isPodkitError, type PodkitError } from '@podkit/errdefs';
import { inspectNetns } from '@podkit/runtime-core/sys';
import { ResultCache } from './cache';
import { validateContainerId, validateIfName, parseConfList } from './conf';
import { buildEnv, DEFAULT_BIN_DIRS, DEFAULT_TIMEOUT_MS, execPlugin, findPlugin, type CniCommand } from './exec';
import { convertResult, parseResult } from './result';
import type { CachedAttachment, CniResult, GcAttachment, NetworkConfigList, PluginConf, RuntimeConf } from './types';
import { isSupportedVersion, LATEST_VERSION, versionAtLeast } from './version';

export const DEFAULT_RUN_DIR = '/run/podkit';

export interface CniRunnerOptions {
  /** Plugin search path (default /opt/cni/bin, /usr/lib/cni). */
  binDirs?: string[];
  /** Where the result cache lives (`<cacheDir>/results`); default `<runDir>/cni`. */
  cacheDir?: string;
  /** Per plugin call (default 60 s). */
  timeoutMs?: number;
  /** Run every plugin process inside this network namespace (a pinned path). */
  pluginNetns?: string;
  /** Environment that the CNI variables are added to (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

export interface PluginVersionInfo {
  cniVersion: string;
  supportedVersions: string[];
}

export interface GcOutcome {
  /** Stale attachments that were deleted. */
  deleted: Array<{ containerId: string; ifName: string }>;
  /** Whether the plugins were sent the GC command (1.1.0 networks). */
  pluginsCollected: boolean;
}

export interface StatusOutcome {
  network: string;
  /** False when the network is older than 1.1.0: there is no STATUS to ask, and it counts as ready. */
  checked: boolean;
}

/** A problem in a capability argument: the path below the capability's key, and why. */
type CapIssue = [sub: string, reason: string] | undefined;
const bad = (reason: string, sub = ''): CapIssue => [sub, reason];

/** Capability arguments that the spec's conventions define, each checked for its shape. */
const CAPABILITY_CHECKS: Readonly<Record<string, (v: unknown) => CapIssue>> = {
  portMappings: (v) => {
    if (!Array.isArray(v)) return bad('must be an array');
    for (const [i, m] of v.entries()) {
      if (typeof m !== 'object' || m === null) return bad('must be an object', `/${i}`);
      const o = m as Record<string, unknown>;
      for (const k of ['hostPort', 'containerPort']) {
        const n = o[k];
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) return bad('must be a port number (1-65535)', `/${i}/${k}`);
      }
      if (o['protocol'] !== undefined && !['tcp', 'udp', 'sctp'].includes(String(o['protocol']).toLowerCase())) {
        return bad('must be tcp, udp or sctp', `/${i}/protocol`);
      }
      if (o['hostIP'] !== undefined && typeof o['hostIP'] !== 'string') return bad('must be a string', `/${i}/hostIP`);
    }
    return undefined;
  },
  bandwidth: (v) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? undefined : bad('must be an object')),
  ipRanges: (v) => (Array.isArray(v) && v.every((r) => Array.isArray(r)) ? undefined : bad('must be an array of range sets (arrays)')),
  dns: (v) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? undefined : bad('must be an object')),
  mac: (v) => (typeof v === 'string' && /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(v) ? undefined : bad('must be a MAC address')),
  ips: (v) => (Array.isArray(v) && v.every((s) => typeof s === 'string') ? undefined : bad('must be an array of strings')),
  aliases: (v) => (Array.isArray(v) && v.every((s) => typeof s === 'string') ? undefined : bad('must be an array of strings')),
};

function checkRuntime(rt: RuntimeConf, needNetns: boolean): void {
  validateContainerId('containerId', rt.containerId);
  validateIfName('ifName', rt.ifName);
  if (typeof rt.netns !== 'string') throw invalidField('netns', 'must be a string');
  if (needNetns && !path.isAbsolute(rt.netns)) throw invalidField('netns', `must be an absolute path, got "${rt.netns}"`);
  for (const [i, pair] of (rt.args ?? []).entries()) {
    if (!Array.isArray(pair) || pair.length !== 2) throw invalidField(`args/${i}`, 'must be a [key, value] pair');
    const [k, v] = pair;
    if (typeof k !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(k)) throw invalidField(`args/${i}/0`, 'must be a key of letters, digits, "_", "." and "-"');
    if (typeof v !== 'string' || /[;=]/.test(v)) throw invalidField(`args/${i}/1`, 'must be a string without ";" or "="');
  }
  if (rt.capabilityArgs !== undefined) {
    if (typeof rt.capabilityArgs !== 'object' || rt.capabilityArgs === null || Array.isArray(rt.capabilityArgs)) {
      throw invalidField('capabilityArgs', 'must be an object');
    }
    for (const [k, v] of Object.entries(rt.capabilityArgs)) {
      const issue = CAPABILITY_CHECKS[k]?.(v);
      if (issue) throw invalidField(`capabilityArgs/${k}${issue[0]}`, issue[1]);
    }
  }
}

export class CniRunner {
  readonly binDirs: string[];
  readonly cache: ResultCache;
  readonly timeoutMs: number;
  readonly pluginNetns: string | undefined;
  private readonly env: NodeJS.ProcessEnv | undefined;

  constructor(opts: CniRunnerOptions & { runDir?: string } = {}) {
    this.binDirs = opts.binDirs && opts.binDirs.length > 0 ? [...opts.binDirs] : [...DEFAULT_BIN_DIRS];
    this.cache = new ResultCache(opts.cacheDir ?? path.join(opts.runDir ?? DEFAULT_RUN_DIR, 'cni'));
    const t = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(t) || t <= 0) throw invalidField('timeoutMs', 'must be a positive number');
    this.timeoutMs = t;
    this.pluginNetns = opts.pluginNetns;
    this.env = opts.env;
  }

  /** Builds one plugin's stdin: the plugin's own config plus name, cniVersion, prevResult, runtimeConfig. */
  buildPluginConfig(list: NetworkConfigList, plugin: PluginConf, prevResult: CniResult | undefined, rt: RuntimeConf | undefined): Buffer {
    const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
    delete conf['cniVersions'];
    if (prevResult) conf['prevResult'] = convertResult(prevResult, list.cniVersion);
    if (rt?.capabilityArgs && plugin.capabilities) {
      const rc: Record<string, unknown> = {};
      for (const [cap, on] of Object.entries(plugin.capabilities)) {
        if (on && rt.capabilityArgs[cap] !== undefined) rc[cap] = rt.capabilityArgs[cap];
      }
      if (Object.keys(rc).length > 0) conf['runtimeConfig'] = rc;
    }
    return Buffer.from(JSON.stringify(conf));
  }

  private async call(
    list: NetworkConfigList,
    plugin: PluginConf,
    command: CniCommand,
    stdin: Buffer,
    rt: RuntimeConf | undefined,
  ): Promise<Buffer> {
    const site = { type: plugin.type, network: list.name, command };
    const file = findPlugin(site, this.binDirs);
    const env = buildEnv(
      { command, containerId: rt?.containerId, netns: rt?.netns, ifName: rt?.ifName, args: rt?.args, path: this.binDirs },
      this.env ?? process.env,
    );
    return execPlugin(file, site, env, stdin, { timeoutMs: this.timeoutMs, ...(this.pluginNetns ? { pluginNetns: this.pluginNetns } : {}) });
  }

  private static checkList(list: NetworkConfigList): void {
    if (!isSupportedVersion(list.cniVersion)) throw invalidField('cniVersion', `"${list.cniVersion}" is not supported`);
  }

  /** ADD: runs the plugins in order, threads prevResult, caches and returns the final result (as 1.1.0). */
  async add(list: NetworkConfigList, rt: RuntimeConf): Promise<CniResult> {
    CniRunner.checkList(list);
    checkRuntime(rt, true);
    let result: CniResult | undefined;
    for (const plugin of list.plugins) {
      const stdin = this.buildPluginConfig(list, plugin, result, rt);
      const out = await this.call(list, plugin, 'ADD', stdin, rt);
      result = this.parsePluginResult(list, plugin, out);
    }
    if (!result) throw new InternalError(`network "${list.name}": ADD produced no result`);
    this.cache.write({
      containerId: rt.containerId,
      networkName: list.name,
      ifName: rt.ifName,
      netns: rt.netns,
      cniArgs: rt.args ?? [],
      capabilityArgs: rt.capabilityArgs ?? {},
      config: list.bytes,
      result: convertResult(result, list.cniVersion) as unknown as Record<string, unknown>,
    });
    return result;
  }

  private parsePluginResult(list: NetworkConfigList, plugin: PluginConf, out: Buffer): CniResult {
    const text = out.toString('utf8');
    const where = `plugin type="${plugin.type}" name="${list.name}" (add)`;
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new InternalError(`${where}: printed a result that is not JSON: ${JSON.stringify(text.slice(0, 200))}`, {
        details: { plugin: plugin.type, network: list.name, command: 'ADD' },
      });
    }
    try {
      return parseResult(doc, list.cniVersion, `result of ${where}`);
    } catch (err) {
      if (isPodkitError(err)) {
        throw new InternalError(err.message, { cause: err, details: { ...err.details, plugin: plugin.type, network: list.name, command: 'ADD' } });
      }
      throw err;
    }
  }

  /** The cached result of an attachment, converted to 1.1.0; undefined when there is none. */
  cachedResult(list: NetworkConfigList, rt: Pick<RuntimeConf, 'containerId' | 'ifName'>): CniResult | undefined {
    const e = this.cache.read(list.name, rt.containerId, rt.ifName);
    if (!e?.result) return undefined;
    const v = e.result['cniVersion'];
    return parseResult(e.result, typeof v === 'string' ? v : '', `cached result ${e.file}`);
  }

  /** DEL: runs the plugins in reverse order with the cached result (0.4.0+), then drops the cache entry. Idempotent. */
  async del(list: NetworkConfigList, rt: RuntimeConf): Promise<void> {
    CniRunner.checkList(list);
    checkRuntime(rt, false);
    let prev: CniResult | undefined;
    const cached = this.cache.read(list.name, rt.containerId, rt.ifName);
    if (versionAtLeast(list.cniVersion, '0.4.0')) {
      try {
        prev = this.cachedResult(list, rt);
      } catch {
        prev = undefined; // a damaged entry: DEL without prevResult, as libcni does
      }
    }
    // After a restart the caller may not know the arguments any more: the cache does.
    const eff: RuntimeConf = {
      ...rt,
      args: rt.args ?? cached?.cniArgs ?? [],
      capabilityArgs: rt.capabilityArgs ?? cached?.capabilityArgs ?? {},
    };
    for (const plugin of [...list.plugins].reverse()) {
      await this.call(list, plugin, 'DEL', this.buildPluginConfig(list, plugin, prev, eff), eff);
    }
    this.cache.remove(list.name, rt.containerId, rt.ifName);
  }

  /** CHECK (0.4.0+): runs every plugin with the cached result. */
  async check(list: NetworkConfigList, rt: RuntimeConf): Promise<void> {
    CniRunner.checkList(list);
    checkRuntime(rt, true);
    if (!versionAtLeast(list.cniVersion, '0.4.0')) {
      throw new UnimplementedError(`network "${list.name}": configuration version ${list.cniVersion} does not support the CHECK command (needs 0.4.0)`);
    }
    if (list.disableCheck) return;
    const prev = this.cachedResult(list, rt);
    if (!prev) {
      throw new NotFoundError(`network "${list.name}": no cached result for container "${rt.containerId}" interface "${rt.ifName}" (was it added?)`);
    }
    const cached = this.cache.read(list.name, rt.containerId, rt.ifName);
    const eff: RuntimeConf = { ...rt, args: rt.args ?? cached?.cniArgs ?? [], capabilityArgs: rt.capabilityArgs ?? cached?.capabilityArgs ?? {} };
    for (const plugin of list.plugins) {
      await this.call(list, plugin, 'CHECK', this.buildPluginConfig(list, plugin, prev, eff), eff);
    }
  }

  /** STATUS (1.1.0): asks every plugin whether it is ready; a plugin's error is thrown (code 50: Unavailable). */
  async status(list: NetworkConfigList): Promise<StatusOutcome> {
    CniRunner.checkList(list);
    if (!versionAtLeast(list.cniVersion, '1.1.0')) return { network: list.name, checked: false };
    for (const plugin of list.plugins) {
      await this.call(list, plugin, 'STATUS', this.buildPluginConfig(list, plugin, undefined, undefined), undefined);
    }
    return { network: list.name, checked: true };
  }

  /**
   * GC (skipped entirely when the list sets disableGC): deletes every cached attachment of this network that is not in `valid` (with its cached
   * arguments, and an empty CNI_NETNS when its namespace is gone), then, for 1.1.0 networks, sends GC
   * with `cni.dev/valid-attachments` to every plugin. Errors are collected and thrown together at the end.
   */
  async gc(list: NetworkConfigList, valid: GcAttachment[]): Promise<GcOutcome> {
    CniRunner.checkList(list);
    valid.forEach((a, i) => {
      validateContainerId(`valid/${i}/containerID`, a.containerID);
      validateIfName(`valid/${i}/ifname`, a.ifname);
    });
    const keep = new Set(valid.map((a) => `${a.containerID}\0${a.ifname}`));
    const outcome: GcOutcome = { deleted: [], pluginsCollected: false };
    // Spec 1.1.0: with disableGC the runtime must not garbage-collect this list (it may be shared).
    if (list.disableGC) return outcome;
    const errors: PodkitError[] = [];
    for (const att of this.cache.list({ networkName: list.name })) {
      if (keep.has(`${att.containerId}\0${att.ifName}`)) continue;
      try {
        await this.del(list, await this.staleRuntime(att));
        outcome.deleted.push({ containerId: att.containerId, ifName: att.ifName });
      } catch (err) {
        errors.push(isPodkitError(err) ? err : new InternalError(String(err)));
      }
    }
    if (versionAtLeast(list.cniVersion, '1.1.0')) {
      for (const plugin of list.plugins) {
        const conf = { ...JSON.parse(this.buildPluginConfig(list, plugin, undefined, undefined).toString()), 'cni.dev/valid-attachments': valid };
        try {
          await this.call(list, plugin, 'GC', Buffer.from(JSON.stringify(conf)), undefined);
        } catch (err) {
          errors.push(isPodkitError(err) ? err : new InternalError(String(err)));
        }
      }
      outcome.pluginsCollected = true;
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) {
      throw new InternalError(`network "${list.name}": GC: ${errors.length} errors: ${errors.map((e) => e.message).join('; ')}`, {
        details: { errors: errors.map((e) => e.toJSON()) },
      });
    }
    return outcome;
  }

  /** Cached attachments (of every network) whose namespace still exists: the default valid list for GC. */
  async liveAttachments(): Promise<GcAttachment[]> {
    const out: GcAttachment[] = [];
    for (const att of this.cache.list()) {
      const info = att.netns ? await inspectNetns(att.netns).catch(() => undefined) : undefined;
      if (info?.isNetns) out.push({ containerID: att.containerId, ifname: att.ifName });
    }
    return out;
  }

  private async staleRuntime(att: CachedAttachment): Promise<RuntimeConf> {
    let netns = att.netns;
    if (netns) {
      const info = await inspectNetns(netns).catch(() => undefined);
      if (!info?.isNetns) netns = '';
    }
    return { containerId: att.containerId, ifName: att.ifName, netns, args: att.cniArgs, capabilityArgs: att.capabilityArgs };
  }

  /** The configuration list an attachment was added with (for DEL when the file is gone). */
  cachedConfig(att: CachedAttachment): NetworkConfigList {
    return parseConfList(att.config, `<cache ${att.file}>`);
  }

  /** VERSION: the versions a plugin supports. */
  async version(type: string, network = '(version)'): Promise<PluginVersionInfo> {
    const site = { type, network, command: 'VERSION' as const };
    const file = findPlugin(site, this.binDirs);
    const env = buildEnv({ command: 'VERSION', path: this.binDirs }, this.env ?? process.env);
    const out = await execPlugin(file, site, env, Buffer.from(JSON.stringify({ cniVersion: LATEST_VERSION })), {
      timeoutMs: this.timeoutMs,
      ...(this.pluginNetns ? { pluginNetns: this.pluginNetns } : {}),
    });
    let doc: unknown;
    try {
      doc = JSON.parse(out.toString('utf8'));
    } catch {
      throw new InternalError(`plugin type="${type}" name="${network}" (version): printed something that is not JSON`);
    }
    const o = doc as Record<string, unknown>;
    const sv = o?.['supportedVersions'];
    if (typeof o !== 'object' || o === null || !Array.isArray(sv) || sv.some((v) => typeof v !== 'string')) {
      // Plugins of spec 0.1.0 answered without supportedVersions.
      throw new InternalError(`plugin type="${type}" name="${network}" (version): answer has no supportedVersions array`);
    }
    return { cniVersion: typeof o['cniVersion'] === 'string' ? o['cniVersion'] : '', supportedVersions: sv as string[] };
  }

  /** Checks that every plugin of a list exists and supports the list's version (libcni's ValidateNetworkList). */
  async validate(list: NetworkConfigList): Promise<string[]> {
    CniRunner.checkList(list);
    const caps = new Set<string>();
    for (const plugin of list.plugins) {
      const info = await this.version(plugin.type, list.name);
      if (!info.supportedVersions.includes(list.cniVersion)) {
        throw new UnimplementedError(
          `plugin type="${plugin.type}" name="${list.name}" does not support version ${list.cniVersion} (supports ${info.supportedVersions.join(', ')})`,
        );
      }
      for (const [c, on] of Object.entries(plugin.capabilities ?? {})) if (on) caps.add(c);
    }
    return [...caps].sort();
  }
}
