/**
 * Benchmark of image-store (issue 7): pull + unpack of a generated image (~200 MiB uncompressed in 5 gzip
 * layers) from a local docker-registry, side by side in one run with
 *   - the peer: `skopeo copy docker://… oci:…` + `umoci unpack`, and
 *   - the floor: `gzip -d` of the same 5 layer blobs to disk (one after the other, as the issue defines
 *     it); shown beside it, for information only, the same with two layers at a time (this machine's
 *     two cores, which podimg uses too).
 * podimg is measured twice: `pull` (layers extracted into overlay layer dirs while downloading) and
 * `pull --no-unpack` + `unpack` (a flat rootfs, what umoci produces). Each variant runs `--rounds` times,
 * interleaved; the report has medians, ratios to the peer and to the floor, and peak RSS (GNU time %M),
 * followed by `RATIO` lines for tools/src/bench/run-all.ts (not with `--json`).
 *
 * Every variant starts from the same state: what the variants before it wrote is flushed (`sync`, not
 * timed), and what a round wrote is given back before the next round without deleting any file (see
 * releaseRound); the trees themselves go when the whole run is over. Two effects of this machine made
 * that necessary, and both charged the variants that write many files and many bytes (podimg, umoci),
 * not the floor (five files):
 * - Deleting: on ext4 without a journal (this disk) a new inode is never one deleted in the last 60 s
 *   (300 s while its inode table block is dirty), and each create walks past every such inode
 *   (`recently_deleted()` and `find_get_block_common()`: 10-14 % of a pull's CPU in `perf` right after
 *   a delete).
 * - Keeping: this VM's memory is backed by the host on first touch. Page cache that grows into pages
 *   the guest never used is written at ~330 MB/s (`copy_folio_from_iter_atomic`, 91 % of `dd` to a new
 *   file), into reused pages at ~3 GB/s. Truncating the round's files frees their pages for reuse.
 * Deletions the machine made before the run still count: start it a few minutes after the last one.
 *
 *   npm run build   (or: tsc -p packages/{errdefs,oci-spec,runtime-core,image-store}/tsconfig.lib.json)
 *   npx tsc -p tools/tsconfig.lib.json && node tools/dist/bench/image.js [--rounds 3] [--layers 5] [--layer-mib 40] [--json]
 *   node tools/dist/bench/image.js --rss-scale 20,80   (peak RSS of podimg pull by image size, information)
 *
 * Needs root (device nodes and owners in the unpacked trees), docker-registry, skopeo, umoci and
 * /usr/bin/time. Not a test.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildGeneratedImage } from '../images/generate';
import { OciLayout } from '../images/layout';
import { podimgCommand } from '../images/podimg';
import { TestRegistry } from '../images/registry';
import { skopeoPush } from '../images/busybox';

/**
 * podimg as a user runs it: the committed launcher executed itself (its shebang carries the CLI's V8
 * flags), not `node bin/podimg`; from the sources when the workspace is not built.
 */
function podimg(argv: string[]): [string, string[]] {
  const [node, args] = podimgCommand(argv);
  const [first, ...rest] = args;
  return first !== undefined && first.endsWith(path.join('bin', 'podimg')) ? [first, rest] : [node, args];
}

const args = process.argv.slice(2);
const ROUNDS = Number(args[args.indexOf('--rounds') + 1]) || 3;
const JSON_OUT = args.includes('--json');
const LAYERS = Number(args[args.indexOf('--layers') + 1]) || 5;
const LAYER_BYTES = (Number(args[args.indexOf('--layer-mib') + 1]) || 40) * 1024 * 1024;
/**
 * `--rss-scale 20,80` (information, not the default run): instead of the comparison, pulls images of
 * `--layers` layers of each of these sizes (MiB) with podimg and reports peak RSS per size, to show
 * that it does not grow with the image (layers are streamed, never held).
 */
const RSS_SCALE = args.includes('--rss-scale')
  ? (args[args.indexOf('--rss-scale') + 1] ?? '')
      .split(',')
      .map(Number)
      .filter((n) => n > 0)
  : [];

interface Sample {
  ms: number;
  rssKiB: number;
  /** User + system CPU time of the command. */
  cpuMs: number;
}

/** Runs one command under /usr/bin/time; returns wall time and peak RSS. */
function timed(cmd: string, argv: string[], opts: { stdout?: string } = {}): Sample {
  const rssFile = path.join(os.tmpdir(), `podkit-bench-rss-${process.pid}`);
  const start = process.hrtime.bigint();
  const out = opts.stdout ? fs.openSync(opts.stdout, 'w') : 'ignore';
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', '-o', rssFile, cmd, ...argv], { stdio: ['ignore', out, 'pipe'], encoding: 'utf8' });
  if (typeof out === 'number') fs.closeSync(out);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  const [user, sys, rss] = (fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop() ?? '').split(' ').map(Number);
  fs.rmSync(rssFile, { force: true });
  return { ms, rssKiB: rss ?? NaN, cpuMs: ((user ?? NaN) + (sys ?? NaN)) * 1000 };
}

/** Flushes what earlier variants wrote, so its writeback does not land in the next measurement. */
function syncDisks(): void {
  spawnSync('sync', [], { stdio: 'ignore' });
}

/**
 * Gives the page cache of a finished round back without deleting a file: every regular file of the
 * round's output trees is truncated to 0 (its pages return to the free lists, and the next round's
 * writes reuse them), the inodes stay until the run is over (see the header), then `sync`.
 */
function releaseRound(paths: string[]): void {
  const walk = (p: string): void => {
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isFile()) fs.truncateSync(p, 0);
    else if (st.isDirectory()) for (const name of fs.readdirSync(p)) walk(path.join(p, name));
  };
  for (const p of paths.splice(0)) walk(p);
  syncDisks();
}

function seq(samples: Sample[]): Sample {
  return { ms: samples.reduce((n, s) => n + s.ms, 0), rssKiB: Math.max(...samples.map((s) => s.rssKiB)), cpuMs: samples.reduce((n, s) => n + s.cpuMs, 0) };
}

export const PULL = 'podimg pull (extract while downloading)';
export const FLAT = 'podimg pull --no-unpack + unpack (flat)';
export const PEER = 'skopeo copy + umoci unpack';
export const FLOOR = 'gzip -d of the layers (floor)';
export const FLOOR2 = 'gzip -d, 2 layers at a time (information)';

/**
 * The machine-readable lines for the bench runner, from the median times (ms) by variant name:
 * podimg pull against the peer (goal: not slower) and against the floor (goal: within 30 %), and the
 * flat unpack against the peer (no goal: umoci's own job, shown for comparison).
 */
export function ratioLines(medianMs: ReadonlyMap<string, number>): string[] {
  const ratio = (a: string, b: string): string => {
    const x = medianMs.get(a);
    const y = medianMs.get(b);
    if (x === undefined || y === undefined || !(y > 0)) throw new Error(`no median for ${x === undefined ? a : b}`);
    return (x / y).toFixed(3);
  };
  return [
    `RATIO image/pull-vs-skopeo-umoci ${ratio(PULL, PEER)} <=1.0 podimg pull ÷ skopeo copy + umoci unpack`,
    `RATIO image/pull-vs-gzip-floor ${ratio(PULL, FLOOR)} <=1.3 podimg pull ÷ gzip -d of the same layers (floor)`,
    `RATIO image/flat-vs-skopeo-umoci ${ratio(FLAT, PEER)} - podimg pull --no-unpack + unpack ÷ skopeo copy + umoci unpack`,
  ];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2;
}

/** The `--rss-scale` run: one warm-up and `--rounds` pulls per image size; peak RSS by size. */
async function rssScale(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-bench-image-rss-'));
  const reg = new TestRegistry();
  try {
    await reg.start();
    for (const mib of RSS_SCALE) {
      const layout = new OciLayout(path.join(work, `layout-${mib}`));
      const img = await buildGeneratedImage(layout, { layers: LAYERS, layerBytes: mib * 1024 * 1024 });
      layout.tag(img.manifest, 'v1');
      const ref = `${reg.host}/bench/rss${mib}:v1`;
      skopeoPush(layout.dir, 'v1', ref);
      const samples: Sample[] = [];
      for (let r = -1; r < ROUNDS; r++) {
        const root = path.join(work, `p-${mib}-${r}`);
        syncDisks();
        const [c, a] = podimg(['--root', root, 'pull', ref]);
        const s = timed(c, a);
        if (r >= 0) samples.push(s);
        fs.rmSync(root, { recursive: true, force: true });
      }
      const rss = samples.map((s) => (s.rssKiB / 1024).toFixed(1));
      process.stdout.write(
        `${`podimg pull, ${LAYERS}×${mib} MiB (${LAYERS * mib} MiB)`.padEnd(44)} ${`${Math.round(median(samples.map((s) => s.ms)))} ms`.padStart(9)}  CPU ${Math.round(median(samples.map((s) => s.cpuMs)))} ms  peak RSS ${rss.join(' / ')} MiB (information)\n`,
      );
      fs.rmSync(layout.dir, { recursive: true, force: true });
    }
  } finally {
    await reg.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (RSS_SCALE.length > 0) return rssScale();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-bench-image-'));
  const reg = new TestRegistry();
  try {
    await reg.start();
    const layout = new OciLayout(path.join(work, 'layout'));
    process.stderr.write(`building a ${LAYERS}×${LAYER_BYTES / 1048576} MiB image...\n`);
    const img = await buildGeneratedImage(layout, { layers: LAYERS, layerBytes: LAYER_BYTES });
    layout.tag(img.manifest, 'v1');
    const ref = `${reg.host}/bench/gen:v1`;
    skopeoPush(layout.dir, 'v1', ref);
    const compressed = img.layers.reduce((n, l) => n + l.size, 0);

    // Output trees of the round being run (see releaseRound).
    const outputs: string[] = [];
    const blob = (digest: string): string => path.join(layout.dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
    const variants: Record<string, (round: number) => Sample> = {
      [PULL]: (i) => {
        const root = path.join(work, `p1-${i}`);
        outputs.push(root);
        const [c, a] = podimg(['--root', root, 'pull', ref]);
        return timed(c, a);
      },
      [FLAT]: (i) => {
        const root = path.join(work, `p2-${i}`);
        outputs.push(root, path.join(work, `p2-bundle-${i}`));
        const [c1, a1] = podimg(['--root', root, 'pull', '--no-unpack', ref]);
        const [c2, a2] = podimg(['--root', root, 'unpack', ref, path.join(work, `p2-bundle-${i}`)]);
        return seq([timed(c1, a1), timed(c2, a2)]);
      },
      [PEER]: (i) => {
        const dir = path.join(work, `u-${i}`);
        outputs.push(dir, `${dir}-bundle`);
        return seq([
          timed('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${dir}:v1`]),
          timed('umoci', ['unpack', '--image', `${dir}:v1`, `${dir}-bundle`]),
        ]);
      },
      [FLOOR]: (i) => {
        const dir = path.join(work, `g-${i}`);
        outputs.push(dir);
        fs.mkdirSync(dir);
        return seq(img.layers.map((l, k) => timed('gzip', ['-dc', blob(l.digest)], { stdout: path.join(dir, `layer-${k}.tar`) })));
      },
      [FLOOR2]: (i) => {
        const dir = path.join(work, `g2-${i}`);
        outputs.push(dir);
        fs.mkdirSync(dir);
        // Two shells, each decompressing every other layer in turn.
        const half = (k0: number): string =>
          img.layers
            .map((l, k) => (k % 2 === k0 ? `gzip -dc '${blob(l.digest)}' > '${path.join(dir, `layer-${k}.tar`)}'` : ''))
            .filter(Boolean)
            .join(' && ');
        return timed('sh', ['-c', `(${half(0)}) & (${half(1)}) & wait`]);
      },
    };
    const results = new Map<string, Sample[]>(Object.keys(variants).map((k) => [k, []]));
    // One warm-up round (page cache, registry), then measured rounds interleaved.
    for (const [name, fn] of Object.entries(variants)) {
      process.stderr.write(`warm-up: ${name}\n`);
      syncDisks();
      fn(-1);
    }
    releaseRound(outputs);
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, fn] of Object.entries(variants)) {
        syncDisks();
        const s = fn(r);
        results.get(name)?.push(s);
        process.stderr.write(`round ${r + 1}/${ROUNDS} ${name}: ${s.ms.toFixed(0)} ms, ${(s.rssKiB / 1024).toFixed(1)} MiB RSS (load ${os.loadavg()[0]?.toFixed(2)})\n`);
      }
      releaseRound(outputs);
    }
    const med = (name: string): number => median((results.get(name) ?? []).map((s) => s.ms));
    const peer = med(PEER);
    const floor = med(FLOOR);
    const rows = [...results].map(([name, samples]) => ({
      name,
      medianMs: Math.round(med(name)),
      vsPeer: +(med(name) / peer).toFixed(2),
      vsFloor: +(med(name) / floor).toFixed(2),
      peakRssMiB: +(Math.max(...samples.map((s) => s.rssKiB)) / 1024).toFixed(1),
    }));
    const summary = {
      image: { layers: LAYERS, uncompressedMiB: (LAYERS * LAYER_BYTES) / 1048576, compressedMiB: +(compressed / 1048576).toFixed(1) },
      rounds: ROUNDS,
      // The machine is shared: the 1/5/15-minute load average when the run ended.
      loadAverage: os.loadavg().map((l) => +l.toFixed(2)),
      rows,
    };
    if (JSON_OUT) {
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      `image: ${LAYERS} gzip layers, ${summary.image.uncompressedMiB} MiB uncompressed, ${summary.image.compressedMiB} MiB compressed; ${ROUNDS} rounds; load average ${summary.loadAverage.join(' ')}\n`,
    );
    process.stdout.write(`${'variant'.padEnd(44)} ${'median'.padStart(9)} ${'×peer'.padStart(7)} ${'×floor'.padStart(7)} ${'peak RSS'.padStart(10)}\n`);
    for (const r of rows) {
      process.stdout.write(`${r.name.padEnd(44)} ${`${r.medianMs} ms`.padStart(9)} ${r.vsPeer.toFixed(2).padStart(7)} ${r.vsFloor.toFixed(2).padStart(7)} ${`${r.peakRssMiB} MiB`.padStart(10)}\n`);
    }
    for (const line of ratioLines(new Map([...results.keys()].map((k) => [k, med(k)])))) process.stdout.write(`${line}\n`);
  } finally {
    await reg.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench image: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
