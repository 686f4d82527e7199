/**
 * Benchmark of image-store III (issue 9), in one run:
 *
 * 1. The race with containerd: pull + unpack of the generated ~200 MiB / 5-layer image from a local
 *    docker-registry, `podimg pull` against Debian's containerd `ctr image pull` (which unpacks into its
 *    overlayfs snapshotter). containerd is started here with temporary roots, socket and config (CRI
 *    and the other services off) and stopped at the end; between its rounds the image is removed with
 *    `ctr image rm --sync` (content and snapshots collected), podimg gets a fresh root each round.
 *    Both with gzip layers and with zstd layers (made by `skopeo copy --dest-compress-format zstd`).
 * 2. Decompression throughput of podkit's unpack path: the same five layers decompressed with
 *    image-store's `decompress` (gzip: node:zlib; zstd: the zstd program when on PATH) and with the
 *    pure-JS fallback (fzstd), MiB/s of tar out.
 *
 *   npx tsc -p tools/tsconfig.lib.json && node tools/dist/bench/image-race.js [--rounds 3] [--layers 5] [--layer-mib 40]
 *
 * Needs root (overlay snapshots, device nodes), containerd + ctr, docker-registry, skopeo. Not a test.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decompress, findZstdProgram, zstdDecompressJs } from '@podkit/image-store';
import { Descriptor } from '@podkit/oci-spec';
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
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) || dflt : dflt;
};
const ROUNDS = opt('--rounds', 3);
const LAYERS = opt('--layers', 5);
const LAYER_BYTES = opt('--layer-mib', 40) * 1024 * 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2;
}

function run(cmd: string, argv: string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  return ms;
}

class Containerd {
  private proc?: ChildProcess;
  readonly sock: string;
  constructor(readonly dir: string) {
    this.sock = path.join(dir, 'containerd.sock');
  }

  async start(): Promise<void> {
    const config = path.join(this.dir, 'config.toml');
    fs.writeFileSync(
      config,
      [
        'version = 2',
        `root = "${path.join(this.dir, 'root')}"`,
        `state = "${path.join(this.dir, 'state')}"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '[grpc]',
        `  address = "${this.sock}"`,
        '[ttrpc]',
        `  address = "${this.sock}.ttrpc"`,
        '[debug]',
        '  level = "error"',
        // The opt plugin would create /opt/containerd otherwise: keep everything under the temp dir.
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = "${path.join(this.dir, 'opt')}"`,
        '',
      ].join('\n'),
    );
    const log = fs.openSync(path.join(this.dir, 'containerd.log'), 'w');
    this.proc = spawn('containerd', ['--config', config], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (spawnSync('ctr', ['-a', this.sock, 'version'], { stdio: 'ignore' }).status === 0) return;
      if (this.proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`containerd did not start: ${fs.readFileSync(path.join(this.dir, 'containerd.log'), 'utf8').slice(-2000)}`);
  }

  ctr(argv: string[]): number {
    return run('ctr', ['-a', this.sock, '-n', 'podkit-bench', ...argv]);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
    // containerd leaves its snapshot mounts only while containers run; none ran here.
  }
}

type Decoder = 'gzip' | 'zstd' | 'zstd-js';

async function throughput(files: string[], decoder: Decoder): Promise<{ ms: number; bytes: number }> {
  const start = process.hrtime.bigint();
  let bytes = 0;
  for (const f of files) {
    const src = fs.createReadStream(f, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>;
    for await (const c of decoder === 'zstd-js' ? zstdDecompressJs(src) : decompress(src, decoder)) bytes += c.length;
  }
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, bytes };
}

function layerFiles(layoutDir: string, tag: string): string[] {
  const index = JSON.parse(fs.readFileSync(path.join(layoutDir, 'index.json'), 'utf8')) as { manifests: Array<Descriptor & { annotations?: Record<string, string> }> };
  const m = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!m) throw new Error(`no ${tag} in ${layoutDir}`);
  const blob = (d: string): string => path.join(layoutDir, 'blobs', 'sha256', d.slice('sha256:'.length));
  const manifest = JSON.parse(fs.readFileSync(blob(m.digest), 'utf8')) as { layers: Descriptor[] };
  return manifest.layers.map((l) => blob(l.digest));
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (overlay snapshots and device nodes)');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-bench-race-'));
  const reg = new TestRegistry();
  const ctd = new Containerd(path.join(work, 'containerd'));
  fs.mkdirSync(ctd.dir);
  try {
    await reg.start();
    const layout = new OciLayout(path.join(work, 'layout'));
    process.stderr.write(`building ${LAYERS} × ${LAYER_BYTES >> 20} MiB image…\n`);
    const img = await buildGeneratedImage(layout, { layers: LAYERS, layerBytes: LAYER_BYTES });
    layout.tag(img.manifest, 'gzip');
    const ref = (t: string): string => `${reg.host}/bench/race:${t}`;
    skopeoPush(layout.dir, 'gzip', ref('gzip'));
    const zstdDir = path.join(work, 'layout-zstd');
    run('skopeo', ['copy', '--quiet', '--dest-compress-format', 'zstd', `oci:${layout.dir}:gzip`, `oci:${zstdDir}:zstd`]);
    skopeoPush(zstdDir, 'zstd', ref('zstd'));
    await ctd.start();

    const variants: Array<[string, () => number]> = [];
    for (const t of ['gzip', 'zstd']) {
      variants.push([
        `containerd ctr pull (${t})`,
        () => {
          const ms = ctd.ctr(['image', 'pull', '--plain-http', ref(t)]);
          ctd.ctr(['image', 'rm', '--sync', ref(t)]);
          return ms;
        },
      ]);
      variants.push([
        `podimg pull (${t})`,
        () => {
          const root = fs.mkdtempSync(path.join(work, 'podimg-'));
          const [cmd, argv] = podimg(['--root', root, '--insecure-registry', reg.host, 'pull', ref(t)]);
          try {
            return run(cmd, argv);
          } finally {
            fs.rmSync(root, { recursive: true, force: true });
          }
        },
      ]);
    }
    const results = new Map<string, number[]>();
    for (const [name, fn] of variants) {
      process.stderr.write(`warm-up: ${name}\n`);
      fn();
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, fn] of variants) {
        const ms = fn();
        results.set(name, [...(results.get(name) ?? []), ms]);
        process.stderr.write(`round ${r + 1}: ${name}: ${Math.round(ms)} ms\n`);
      }
    }
    const med = (n: string): number => median(results.get(n) ?? []);
    process.stdout.write(`\npull + unpack, ${LAYERS} layers × ${LAYER_BYTES >> 20} MiB, median of ${ROUNDS}\n`);
    for (const [name] of variants) process.stdout.write(`  ${name.padEnd(32)} ${`${Math.round(med(name))} ms`.padStart(10)}\n`);
    for (const t of ['gzip', 'zstd']) {
      const ratio = med(`podimg pull (${t})`) / med(`containerd ctr pull (${t})`);
      process.stdout.write(`RATIO image-race/pull-${t} ${ratio.toFixed(3)} <1 podimg pull ÷ ctr image pull (${t} layers, unpacked)\n`);
    }

    // Decompression throughput in-process (median of rounds).
    const gz = layerFiles(layout.dir, 'gzip');
    const zs = layerFiles(zstdDir, 'zstd');
    const tp: Record<Decoder, number[]> = { gzip: [], zstd: [], 'zstd-js': [] };
    let bytes = 0;
    for (let r = 0; r < ROUNDS + 1; r++) {
      for (const [name, files] of [['gzip', gz], ['zstd', zs], ['zstd-js', zs]] as const) {
        const t = await throughput(files, name);
        bytes = t.bytes;
        if (r > 0) tp[name].push(t.ms);
      }
    }
    const mibs = (ms: number): number => bytes / 1024 / 1024 / (ms / 1000);
    const label: Record<Decoder, string> = { gzip: 'gzip (node:zlib)', zstd: `zstd (${findZstdProgram() ?? 'pure JS'})`, 'zstd-js': 'zstd (fzstd, pure JS)' };
    process.stdout.write(`\ndecompression in-process (${(bytes / 1024 / 1024).toFixed(0)} MiB of tar, median of ${ROUNDS})\n`);
    for (const name of ['gzip', 'zstd', 'zstd-js'] as const) process.stdout.write(`  ${label[name].padEnd(30)} ${`${Math.round(median(tp[name]))} ms`.padStart(9)}  ${mibs(median(tp[name])).toFixed(0).padStart(5)} MiB/s\n`);
    process.stdout.write(`RATIO image-race/zstd-vs-gzip-decompress ${(median(tp.zstd) / median(tp.gzip)).toFixed(3)} - zstd (as unpack decodes it) time ÷ gzip time, same layers\n`);
    process.stdout.write(`RATIO image-race/zstd-js-vs-gzip-decompress ${(median(tp['zstd-js']) / median(tp.gzip)).toFixed(3)} - zstd (fzstd, pure JS fallback) time ÷ gzip time\n`);
  } finally {
    await ctd.stop();
    await reg.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
