/**
 * podnet: the counterpart of the CNI project's cnitool, on podkit's runner.
 *
 *   podnet netns add|rm <name> | netns ls | netns exec <name> -- cmd...
 *   podnet add|del|check <network> <netns> [--ifname eth0] [--container-id id] [--args K=V;...] [--cap json]...
 *   podnet status <network> | gc [--valid cid/ifname]... | ls
 * Global: --conf-dir, --bin-dir (repeatable), --run-dir, --timeout, --plugin-netns, -o json.
 * Modules are loaded inside the handlers, so `--help` stays fast.
 */
import { createHash } from 'node:crypto';
import { exitCodeFor, InvalidArgumentError, invalidField, isNotFound, toPodkitError } from '@podkit/errdefs';
import type { Argv, ArgumentsCamelCase } from 'yargs';
import type * as Lib from '../index';
import type { CniResult, NetworkConfigList, RuntimeConf } from '../types';

interface Globals {
  'conf-dir': string;
  'bin-dir': string[] | undefined;
  'run-dir': string;
  timeout: number;
  'plugin-netns': string | undefined;
  output: string;
}

type Args<T = object> = ArgumentsCamelCase<Globals & T>;

function lib(): typeof Lib {
  return require('../index') as typeof Lib;
}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function json(a: Args, value: unknown): boolean {
  if (a.output !== 'json') return false;
  out(JSON.stringify(value, null, 2));
  return true;
}

function runner(a: Args): Lib.CniRunner {
  const { CniRunner } = lib();
  const pluginNetns = a.pluginNetns ? netnsPath(a, a.pluginNetns) : undefined;
  return new CniRunner({
    ...(a.binDir && a.binDir.length > 0 ? { binDirs: a.binDir.flatMap((d) => d.split(':')).filter(Boolean) } : {}),
    runDir: a.runDir,
    timeoutMs: a.timeout * 1000,
    ...(pluginNetns ? { pluginNetns } : {}),
  });
}

/** An absolute path is used as is; a bare name is a pinned namespace under <run-dir>/netns. */
function netnsPath(a: Args, value: string): string {
  if (value.startsWith('/')) return value;
  return new (lib().NetnsStore)(a.runDir).pathOf(value);
}

/** cnitool's default container ID: a stable hash of the namespace path. */
export function defaultContainerId(nsPath: string): string {
  return `podnet-${createHash('sha512').update(nsPath).digest('hex').slice(0, 20)}`;
}

export function parseCniArgs(text: string | undefined): Array<[string, string]> {
  if (!text) return [];
  return text
    .split(';')
    .filter((p) => p.length > 0)
    .map((p, i) => {
      const eq = p.indexOf('=');
      if (eq <= 0) throw invalidField(`--args/${i}`, `"${p}" is not KEY=VALUE`);
      return [p.slice(0, eq), p.slice(eq + 1)] as [string, string];
    });
}

export function parseCaps(values: string[] | undefined): Record<string, unknown> | undefined {
  if (!values || values.length === 0) return undefined;
  const caps: Record<string, unknown> = {};
  values.forEach((v, i) => {
    let doc: unknown;
    try {
      doc = JSON.parse(v);
    } catch (err) {
      throw invalidField(`--cap/${i}`, `is not JSON: ${(err as Error).message}`);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalidField(`--cap/${i}`, 'must be a JSON object of capability arguments');
    Object.assign(caps, doc);
  });
  return caps;
}

/** The network by name from the conf dir; for DEL, the configuration cached at ADD when the file is gone. */
function network(a: Args, name: string, forDel?: { containerId: string; ifName: string }, r?: Lib.CniRunner): NetworkConfigList {
  const { loadConfDir, findNetwork } = lib();
  const loaded = loadConfDir(a.confDir);
  try {
    return findNetwork(loaded, name, a.confDir);
  } catch (err) {
    if (forDel && r && isNotFound(err)) {
      const att = r.cache.read(name, forDel.containerId, forDel.ifName);
      if (att) return r.cachedConfig(att);
    }
    throw err;
  }
}

function describeResult(r: CniResult): string {
  const lines: string[] = [];
  (r.interfaces ?? []).forEach((i, n) => lines.push(`interface ${n}: ${i.name}${i.mac ? ` ${i.mac}` : ''}${i.sandbox ? ` (in ${i.sandbox})` : ''}`));
  for (const ip of r.ips ?? []) lines.push(`ip ${ip.address}${ip.gateway ? ` gw ${ip.gateway}` : ''}${ip.interface !== undefined ? ` on interface ${ip.interface}` : ''}`);
  for (const rt of r.routes ?? []) lines.push(`route ${rt.dst}${rt.gw ? ` via ${rt.gw}` : ''}`);
  if (r.dns?.nameservers?.length) lines.push(`dns ${r.dns.nameservers.join(' ')}`);
  return lines.join('\n') || '(empty result)';
}

type AttachArgs = Args<{ network: string; netns: string; ifname: string; containerId: string | undefined; args: string | undefined; cap: string[] | undefined }>;

function attachment(a: AttachArgs): RuntimeConf {
  const ns = netnsPath(a, a.netns);
  const caps = parseCaps(a.cap);
  return {
    containerId: a.containerId ?? defaultContainerId(ns),
    netns: ns,
    ifName: a.ifname,
    ...(a.args !== undefined ? { args: parseCniArgs(a.args) } : {}),
    ...(caps ? { capabilityArgs: caps } : {}),
  };
}

function attachOptions(y: Argv): Argv {
  return y
    .positional('network', { type: 'string', describe: 'network name (from --conf-dir)', demandOption: true })
    .positional('netns', { type: 'string', describe: 'network namespace: a path, or a name under <run-dir>/netns', demandOption: true })
    .option('ifname', { type: 'string', default: 'eth0', describe: 'interface name in the namespace' })
    .option('container-id', { type: 'string', describe: 'container ID (default: a stable hash of the namespace path)' })
    .option('args', { type: 'string', describe: 'CNI_ARGS, as K=V;K2=V2' })
    .option('cap', { type: 'string', coerce: repeatable, describe: 'capability arguments as a JSON object, e.g. {"portMappings":[...]} (repeatable)' });
}

/** A repeatable option without yargs' greedy arrays (which would swallow the positional arguments). */
function repeatable(v: unknown): string[] {
  return (Array.isArray(v) ? v : [v]).map(String);
}

export function buildCli(argv: string[]): Argv {
  const yargs = require('yargs/yargs') as (args: string[]) => Argv;
  return yargs(argv)
    .scriptName('podnet')
    .exitProcess(false)
    .parserConfiguration({ 'populate--': true })
    .option('conf-dir', { type: 'string', default: '/etc/cni/net.d', describe: 'network configuration folder' })
    .option('bin-dir', { type: 'string', coerce: repeatable, describe: 'plugin folder (repeatable; default /opt/cni/bin and /usr/lib/cni)' })
    .option('run-dir', { type: 'string', default: '/run/podkit', describe: 'pinned namespaces (<run-dir>/netns) and the result cache (<run-dir>/cni)' })
    .option('timeout', { type: 'number', default: 60, describe: 'seconds allowed for each plugin call' })
    .option('plugin-netns', { type: 'string', describe: 'run the plugin processes inside this network namespace (path or name)' })
    .option('output', { alias: 'o', type: 'string', choices: ['text', 'json'], default: 'text', describe: 'output format' })
    .command('netns', 'manage pinned network namespaces', (y) =>
      y
        .command('add <name>', 'create and pin a network namespace', (z) => z.positional('name', { type: 'string', demandOption: true }), async (a) => {
          const ns = await new (lib().NetnsStore)(a.runDir).add(a.name as string);
          if (!json(a as Args, ns)) out(ns.path);
        })
        .command('rm <name>', 'remove a pinned network namespace (idempotent)', (z) => z.positional('name', { type: 'string', demandOption: true }), async (a) => {
          await new (lib().NetnsStore)(a.runDir).rm(a.name as string);
        })
        .command(['ls', 'list'], 'list pinned network namespaces', {}, async (a) => {
          const all = await new (lib().NetnsStore)((a as unknown as Args).runDir).list();
          if (!json(a as Args, all)) for (const n of all) out(`${n.name}\t${n.path}`);
        })
        .command('exec <name>', 'run a command inside a namespace: netns exec <name> -- cmd args...', (z) => z.positional('name', { type: 'string', demandOption: true }), async (a) => {
          const cmd = ((a as Record<string, unknown>)['--'] as string[] | undefined) ?? [];
          if (cmd.length === 0) {
            throw new InvalidArgumentError('netns exec: name the command after --', { details: { usage: true, field: 'command' } });
          }
          process.exitCode = await new (lib().NetnsStore)(a.runDir).exec(a.name as string, cmd.map(String));
        })
        .demandCommand(1, 'name a netns subcommand: add, rm, ls or exec'),
    )
    .command('add <network> <netns>', 'attach a namespace to a network (CNI ADD)', attachOptions, async (a) => {
      const args = a as unknown as AttachArgs;
      const r = runner(args);
      const result = await r.add(network(args, args.network), attachment(args));
      if (!json(args, result)) out(describeResult(result));
    })
    .command('del <network> <netns>', 'detach a namespace from a network (CNI DEL)', attachOptions, async (a) => {
      const args = a as unknown as AttachArgs;
      const r = runner(args);
      const rt = attachment(args);
      await r.del(network(args, args.network, rt, r), rt);
    })
    .command('check <network> <netns>', 'check an attachment (CNI CHECK)', attachOptions, async (a) => {
      const args = a as unknown as AttachArgs;
      await runner(args).check(network(args, args.network), attachment(args));
      if (!json(args, { ok: true })) out('ok');
    })
    .command('status <network>', 'ask the network plugins whether they are ready (CNI STATUS)', (y) => y.positional('network', { type: 'string', demandOption: true }), async (a) => {
      const args = a as unknown as Args<{ network: string }>;
      const st = await runner(args).status(network(args, args.network));
      if (!json(args, st)) out(st.checked ? `${st.network}: ready` : `${st.network}: ready (no STATUS before CNI 1.1.0)`);
    })
    .command(
      'gc',
      'delete attachments whose namespace is gone, and send GC to 1.1.0 plugins',
      (y) => y.option('valid', { type: 'string', coerce: repeatable, describe: 'attachments to keep, as <container-id>/<ifname> (default: those whose namespace still exists)' }).option('network', { type: 'string', describe: 'only this network' }),
      async (a) => {
        const args = a as unknown as Args<{ valid: string[] | undefined; network: string | undefined }>;
        const r = runner(args);
        const { loadConfDir } = lib();
        let valid: Array<{ containerID: string; ifname: string }>;
        if (args.valid) {
          valid = args.valid.map((v, n) => {
            const i = v.lastIndexOf('/');
            if (i <= 0 || i === v.length - 1) throw invalidField(`--valid/${n}`, `"${v}" is not <container-id>/<ifname>`);
            return { containerID: v.slice(0, i), ifname: v.slice(i + 1) };
          });
        } else {
          valid = await r.liveAttachments();
        }
        const nets = loadConfDir(args.confDir).networks.filter((n) => args.network === undefined || n.name === args.network);
        const report: Array<{ network: string } & Lib.GcOutcome> = [];
        for (const n of nets) report.push({ network: n.name, ...(await r.gc(n, valid)) });
        if (!json(args, report)) {
          for (const rep of report) {
            out(`${rep.network}: deleted ${rep.deleted.length} stale attachment(s)${rep.deleted.map((d) => ` ${d.containerId}/${d.ifName}`).join('')}${rep.pluginsCollected ? '; plugins collected' : ''}`);
          }
        }
      },
    )
    .command(['ls', 'list'], 'list the networks found in --conf-dir, and the files skipped with the reason', {}, (a) => {
      const args = a as unknown as Args;
      const loaded = lib().loadConfDir(args.confDir);
      const view = {
        networks: loaded.networks.map((n, i) => ({ name: n.name, cniVersion: n.cniVersion, file: n.source, plugins: n.plugins.map((p) => p.type), default: i === 0 })),
        skipped: loaded.skipped,
      };
      if (json(args, view)) return;
      for (const n of view.networks) out(`${n.name}\t${n.cniVersion}\t${n.plugins.join(',')}\t${n.file}${n.default ? '\t(default)' : ''}`);
      for (const s of view.skipped) out(`skipped ${s.file}: ${s.reason}`);
    })
    .demandCommand(1, 'name a command')
    .strict()
    .help()
    .version('0.1.0');
}

export async function main(argv: string[]): Promise<void> {
  let usage: string | undefined;
  try {
    await buildCli(argv)
      .fail((msg, err) => {
        if (err) throw err;
        usage = msg;
        throw new InvalidArgumentError(msg, { details: { usage: true } });
      })
      .parseAsync();
  } catch (e) {
    const err = toPodkitError(e);
    process.stderr.write(`podnet: ${err.message}${usage ? '\nRun `podnet --help` for usage.' : ''}\n`);
    process.exitCode = exitCodeFor(err);
  }
}
