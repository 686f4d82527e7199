/**
 * Benchmark of @podkit/runtime-core (built package) against Debian's runc, in one run, interleaved:
 *
 *   - CLI: `podrun run` of /bin/true; podrun's own work is its median minus the median of `node -e 0`
 *     (Node's start-up, measured in the same run), compared with runc's median (target <= 1.0x).
 *   - Library: create + start + wait + delete of /bin/true from this running Node process (no CLI),
 *     compared with `runc run` (target <= 0.5x).
 *   - Peak RSS of podkit-init: VmHWM of the init while it waits on the exec FIFO (its whole life before
 *     execve), next to runc's `runc init` in the same state.
 *
 *   npm run build   (or: node native/build.js && npx tsc -p packages/runtime-core/tsconfig.lib.json)
 *   npx tsc -p tools/tsconfig.lib.json && sudo node tools/dist/bench/runtime.js [--rounds 20] [--json]
 *
 * Needs root, /bin/busybox and runc. Cgroups are made beneath this process's own (relative
 * cgroupsPath). Prints medians and ratios, then `RATIO` lines for tools/src/bench/run-all.ts (not with
 * `--json`). Not a test.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Runtime } from '@podkit/runtime-core';
import { buildBusyboxBundle } from '../rootfs/busybox';

const args = process.argv.slice(2);
const ROUNDS = Number(args[args.indexOf('--rounds') + 1]) || 20;
const JSON_OUT = args.includes('--json');
const PODRUN = path.resolve(__dirname, '../../../packages/runtime-core/bin/podrun');
const RUNC = ['/usr/sbin/runc', '/usr/bin/runc'].find((f) => fs.existsSync(f)) ?? 'runc';

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** The machine-readable lines for the bench runner, from the medians (ms) of one run. */
export function ratioLines(m: { nodeMedianMs: number; podrunMedianMs: number; runcMedianMs: number; libraryMedianMs: number }): string[] {
  // Only the four medians (the caller may pass more, e.g. a difference that noise made negative).
  for (const k of ['nodeMedianMs', 'podrunMedianMs', 'runcMedianMs', 'libraryMedianMs'] as const) if (!Number.isFinite(m[k]) || m[k] < 0) throw new Error(`no median for ${k}`);
  if (!(m.runcMedianMs > 0)) throw new Error('no median for runcMedianMs');
  return [
    `RATIO runtime/podrun-vs-runc ${((m.podrunMedianMs - m.nodeMedianMs) / m.runcMedianMs).toFixed(3)} <=1.0 (podrun run − node -e 0) ÷ runc run, /bin/true`,
    `RATIO runtime/library-vs-runc ${(m.libraryMedianMs / m.runcMedianMs).toFixed(3)} <=0.5 library create+start+wait+delete ÷ runc run, /bin/true`,
  ];
}

function timeSpawn(cmd: string, argv: string[], cwd: string): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status}: ${r.stderr?.toString()}`);
  return ms;
}

function vmHWM(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-bench-runtime-'));
  const bundle = path.join(work, 'bundle');
  const stateP = path.join(work, 'podrun-state');
  const stateR = path.join(work, 'runc-state');
  const stateL = path.join(work, 'lib-state');
  buildBusyboxBundle(bundle, {
    args: ['/bin/true'],
    mutate: (s) => {
      s.linux = { ...s.linux, cgroupsPath: `podkit-bench-${process.pid}` };
      // Quiet: runc's default lists ambient capabilities that are not inheritable.
      if (s.process?.capabilities) delete s.process.capabilities.ambient;
    },
  });
  const runtime = new Runtime({ root: stateL });
  const node: number[] = [];
  const podrun: number[] = [];
  const runc: number[] = [];
  const lib: number[] = [];
  try {
    // One warm-up of each, untimed (page cache, first-run compilation).
    timeSpawn(PODRUN, ['--root', stateP, 'run', 'warm'], bundle);
    timeSpawn(RUNC, ['--root', stateR, 'run', 'warm'], bundle);
    await runtime.create('warm', { bundle });
    await runtime.start('warm');
    await runtime.wait('warm');
    await runtime.delete('warm');
    for (let i = 0; i < ROUNDS; i++) {
      node.push(timeSpawn(process.execPath, ['-e', '0'], bundle));
      podrun.push(timeSpawn(PODRUN, ['--root', stateP, 'run', `p${i}`], bundle));
      runc.push(timeSpawn(RUNC, ['--root', stateR, 'run', `r${i}`], bundle));
      const t = process.hrtime.bigint();
      await runtime.create(`l${i}`, { bundle });
      await runtime.start(`l${i}`);
      const st = await runtime.wait(`l${i}`);
      await runtime.delete(`l${i}`);
      lib.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (st.exitCode !== 0) throw new Error(`library run exited ${JSON.stringify(st)}`);
    }
    // Peak RSS of the init while blocked on the exec FIFO (podkit-init), and of `runc init` likewise.
    const created = await runtime.create('rss', { bundle });
    const initKb = vmHWM(created.state.pid);
    await runtime.delete('rss');
    spawnSync(RUNC, ['--root', stateR, 'create', 'rss'], { cwd: bundle, stdio: 'ignore' });
    const runcState = JSON.parse(spawnSync(RUNC, ['--root', stateR, 'state', 'rss'], { encoding: 'utf8' }).stdout) as { pid: number };
    const runcInitKb = vmHWM(runcState.pid);
    spawnSync(RUNC, ['--root', stateR, 'delete', '--force', 'rss'], { stdio: 'ignore' });

    const out = {
      rounds: ROUNDS,
      nodeMedianMs: median(node),
      podrunMedianMs: median(podrun),
      podrunOwnMs: median(podrun) - median(node),
      // The same, less sensitive to load that drifts during the run: the median of each round's
      // podrun minus the `node -e 0` measured just before it. Shown, not used for the ratio.
      podrunOwnPairedMs: median(podrun.map((p, i) => p - (node[i] as number))),
      runcMedianMs: median(runc),
      libraryMedianMs: median(lib),
      cliRatio: (median(podrun) - median(node)) / median(runc),
      libraryRatio: median(lib) / median(runc),
      podkitInitPeakRssKb: initKb,
      runcInitPeakRssKb: runcInitKb,
    };
    if (JSON_OUT) {
      process.stdout.write(`${JSON.stringify(out)}\n`);
      return;
    }
    const f = (n: number) => n.toFixed(1).padStart(8);
    console.log(`OCI runtime: run of /bin/true (busybox bundle), ${ROUNDS} rounds each, interleaved`);
    console.log(`                                  median (ms)`);
    console.log(`node -e 0                        ${f(out.nodeMedianMs)}`);
    console.log(`podrun run                       ${f(out.podrunMedianMs)}`);
    console.log(`podrun run - node -e 0           ${f(out.podrunOwnMs)}`);
    console.log(`  (paired, per round)            ${f(out.podrunOwnPairedMs)}`);
    console.log(`runc run                         ${f(out.runcMedianMs)}`);
    console.log(`library create+start+wait+delete ${f(out.libraryMedianMs)}`);
    console.log(`ratio (podrun - node) / runc: ${out.cliRatio.toFixed(2)}x (target <= 1.0x)`);
    console.log(`ratio library / runc:         ${out.libraryRatio.toFixed(2)}x (target <= 0.5x)`);
    console.log(`peak RSS while waiting to start: podkit-init ${initKb} kB, runc init ${runcInitKb} kB`);
    for (const line of ratioLines(out)) console.log(line);
  } finally {
    // Whatever a failed round left behind: containers of each runtime (and so their cgroups), then files.
    for (const c of runtime.list()) await runtime.delete(c.id, { force: true }).catch(() => undefined);
    for (const [bin, root] of [
      [PODRUN, stateP],
      [RUNC, stateR],
    ] as const) {
      const ids = spawnSync(bin, ['--root', root, 'list', '-q'], { encoding: 'utf8' }).stdout ?? '';
      for (const id of ids.split('\n').filter(Boolean)) spawnSync(bin, ['--root', root, 'delete', '--force', id], { stdio: 'ignore' });
    }
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
