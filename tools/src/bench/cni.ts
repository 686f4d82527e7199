/**
 * Benchmark of @podkit/cni-runner (built package): ADD+DEL latency of one attachment through the runner,
 * against the same plugin chain invoked directly from a shell script (the peer: no runner, just the
 * plugins with the CNI environment and prevResult spliced into their stdin), in one run.
 *
 *   NX_DAEMON=false npx nx run cni-runner:build && npx tsc -p tools/tsconfig.lib.json
 *   sudo node tools/dist/bench/cni.js [--rounds 40] [--json]
 *
 * Needs root and Debian's plugins in /usr/lib/cni. Everything happens inside a network namespace that
 * the benchmark creates as the "host" (no route out): the benchmark re-executes itself inside it through
 * podkit-netns, so the runner and the shell script both start the plugins directly, in the same namespace.
 * The chain is bridge + host-local + loopback + portmap (one port mapping) + firewall + tuning. Each round
 * creates a fresh pod namespace (not timed) and times ADD then DEL; the two sides alternate. Prints medians
 * and the ratio runner/shell. Not a test.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CniRunner, NetnsStore, parseConfList, type NetworkConfigList, type RuntimeConf } from '@podkit/cni-runner';
import { netnsExecCommand, netnsHelperPath } from '@podkit/runtime-core/sys';

const args = process.argv.slice(2);
const ROUNDS = Number(args[args.indexOf('--rounds') + 1]) || 40;
const JSON_OUT = args.includes('--json');
const BIN = '/usr/lib/cni';
const ENV = { ...process.env, PATH: `${process.env['PATH'] ?? '/usr/bin:/bin'}:/usr/sbin:/sbin` };

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function confList(dataDir: string): NetworkConfigList {
  return parseConfList(
    JSON.stringify({
      cniVersion: '1.0.0',
      name: 'benchnet',
      plugins: [
        {
          type: 'bridge',
          bridge: 'benchbr0',
          isGateway: true,
          ipMasq: false,
          ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.77.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }] },
        },
        { type: 'loopback' },
        { type: 'portmap', capabilities: { portMappings: true }, snat: true },
        { type: 'firewall', backend: 'iptables' },
        { type: 'tuning', sysctl: { 'net.core.somaxconn': '512' } },
      ],
    }),
    'bench',
  );
}

/** The peer: a POSIX shell script that runs the chain as a runtime would, without any runner. */
function shellScript(runner: CniRunner, list: NetworkConfigList, rt: RuntimeConf): string {
  // Each plugin's stdin without the closing brace, so the script can append "prevResult".
  const bodies = list.plugins.map((p) => {
    const json = runner.buildPluginConfig(list, p, undefined, rt).toString();
    if (json.includes("'")) throw new Error('plugin configuration holds a quote');
    return json.slice(0, -1);
  });
  const lines = [
    '#!/bin/sh',
    'set -e',
    `export CNI_PATH=${BIN} CNI_NETNS="$1" CNI_CONTAINERID="$2" CNI_IFNAME=eth0 CNI_ARGS=`,
    'export CNI_COMMAND=ADD',
  ];
  list.plugins.forEach((p, i) => {
    const body = bodies[i] as string;
    lines.push(i === 0 ? `r=$(printf '%s}' '${body}' | ${BIN}/${p.type})` : `r=$(printf '%s,"prevResult":%s}' '${body}' "$r" | ${BIN}/${p.type})`);
  });
  lines.push('export CNI_COMMAND=DEL');
  [...list.plugins.keys()].reverse().forEach((i) => {
    lines.push(`printf '%s,"prevResult":%s}' '${bodies[i] as string}' "$r" | ${BIN}/${(list.plugins[i] as { type: string }).type} >/dev/null`);
  });
  return `${lines.join('\n')}\n`;
}

function runScript(script: string, ns: string, cid: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', [script, ns, cid], { env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`shell chain failed (${code}): ${err}`))));
  });
}

async function inner(runDir: string): Promise<void> {
  const store = new NetnsStore(runDir);
  const dataDir = path.join(runDir, 'ipam');
  fs.mkdirSync(dataDir, { recursive: true });
  const list = confList(dataDir);
  const runner = new CniRunner({ runDir, binDirs: [BIN], env: ENV });
  const mapping = { portMappings: [{ hostPort: 30080, containerPort: 80, protocol: 'tcp' }] };
  const script = path.join(runDir, 'chain.sh');
  fs.writeFileSync(script, shellScript(runner, list, { containerId: 'x', netns: '/x', ifName: 'eth0', capabilityArgs: mapping }), { mode: 0o755 });

  let n = 0;
  const viaRunner = async (): Promise<number> => {
    const pod = await store.add(`pod${++n}`);
    const rt: RuntimeConf = { containerId: `bench${n}`, netns: pod.path, ifName: 'eth0', capabilityArgs: mapping };
    const t = process.hrtime.bigint();
    await runner.add(list, rt);
    await runner.del(list, rt);
    const d = ms(t);
    await store.rm(pod.name);
    return d;
  };
  const viaShell = async (): Promise<number> => {
    const pod = await store.add(`pod${++n}`);
    const t = process.hrtime.bigint();
    await runScript(script, pod.path, `bench${n}`);
    const d = ms(t);
    await store.rm(pod.name);
    return d;
  };
  for (let i = 0; i < 3; i++) {
    await viaRunner();
    await viaShell();
  }
  const r: number[] = [];
  const s: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    if (i % 2 === 0) {
      r.push(await viaRunner());
      s.push(await viaShell());
    } else {
      s.push(await viaShell());
      r.push(await viaRunner());
    }
  }
  const leases = fs.readdirSync(path.join(dataDir, 'benchnet')).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
  const out = {
    rounds: ROUNDS,
    plugins: list.plugins.map((p) => p.type),
    runnerMedianMs: median(r),
    shellMedianMs: median(s),
    runnerP90Ms: quantile(r, 0.9),
    shellP90Ms: quantile(s, 0.9),
    ratio: median(r) / median(s),
    overheadPct: (median(r) / median(s) - 1) * 100,
    leftoverLeases: leases.length,
  };
  if (JSON_OUT) {
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  const f = (x: number): string => x.toFixed(1).padStart(7);
  console.log(`CNI ADD+DEL, chain ${out.plugins.join(' + ')} (host-local inside), ${ROUNDS} rounds each, interleaved`);
  console.log(`                    median     p90  (ms)`);
  console.log(`podkit runner     ${f(out.runnerMedianMs)} ${f(out.runnerP90Ms)}`);
  console.log(`shell script      ${f(out.shellMedianMs)} ${f(out.shellP90Ms)}`);
  console.log(`ratio runner/shell: ${out.ratio.toFixed(3)} (overhead ${out.overheadPct.toFixed(1)}%, target < 10%)`);
  if (leases.length > 0) console.log(`WARNING: ${leases.length} leases left in host-local's store`);
  // The machine-readable line for tools/src/bench/run-all.ts.
  console.log(`RATIO cni/add-del ${out.ratio.toFixed(3)} <1.10 ADD+DEL of a ${out.plugins.length}-plugin chain: podkit runner ÷ the plugins run from a shell script`);
}

async function outer(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the CNI benchmark needs root (network namespaces, veths, iptables)');
  if (!fs.existsSync(path.join(BIN, 'bridge'))) throw new Error(`no CNI plugins in ${BIN} (install containernetworking-plugins)`);
  const runDir = fs.mkdtempSync(`/run/podkit-bench-cni-${process.pid}-`);
  const store = new NetnsStore(runDir);
  try {
    const host = await store.add('benchhost');
    const lo = netnsExecCommand(host.path, ['ip', 'link', 'set', 'lo', 'up']);
    spawnSync(lo.file, lo.args, { stdio: 'inherit' });
    // Re-run this file inside the host namespace: plugins and runner then share it, and nothing of the
    // machine's own network is touched.
    const r = spawnSync(netnsHelperPath(), [host.path, process.execPath, __filename, '--inner', runDir, ...args], { stdio: 'inherit', env: ENV });
    if (r.status !== 0) process.exitCode = r.status ?? 1;
  } finally {
    for (const ns of await store.list().catch(() => [])) await store.rm(ns.name).catch(() => undefined);
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}

const innerAt = args.indexOf('--inner');
(innerAt >= 0 ? inner(args[innerAt + 1] as string) : outer()).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
