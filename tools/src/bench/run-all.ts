/**
 * Runs every benchmark in tools/dist/bench (each one compares podkit with its peer in the same run) with a
 * modest round count, one after the other, and prints one table of the ratios against the peers.
 *
 *   npx tsc -p tools/tsconfig.lib.json && sudo node tools/dist/bench/run-all.js [--rounds N] [--only a,b] [--markdown]
 *   (npm run bench)
 *
 * The line format a benchmark prints for the table (stdout, one line per ratio):
 *
 *   RATIO <name> <value> <target> <what is compared, free text>
 *
 * `name` has no spaces (`cni/add-del`), `value` is podkit ÷ peer (lower is better for times; the text says
 * what is divided by what), `target` is the goal (`<1.10`, `>=1`) or `-`. A benchmark that prints no RATIO
 * line gets its last lines shown instead. Not a test.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface RatioLine {
  bench: string;
  name: string;
  value: number;
  target: string;
  what: string;
}

export interface BenchOutcome {
  bench: string;
  ok: boolean;
  seconds: number;
  ratios: RatioLine[];
  /** The last lines of its output, shown when it printed no RATIO line or failed. */
  tail: string[];
}

const RATIO_RE = /^RATIO (\S+) (\S+) (\S+)(?: (.*))?$/;

/** Parses the RATIO lines of a benchmark's output (other lines are ignored). */
export function parseRatios(bench: string, out: string): RatioLine[] {
  const ratios: RatioLine[] = [];
  for (const line of out.split('\n')) {
    const m = RATIO_RE.exec(line.trim());
    if (!m) continue;
    const value = Number(m[2]);
    if (!Number.isFinite(value)) continue;
    ratios.push({ bench, name: m[1] as string, value, target: m[3] as string, what: (m[4] ?? '').trim() });
  }
  return ratios;
}

/** Whether a value meets a target like `<1.10`, `<=2`, `>0.9`, `>=1`; undefined for `-` or an unknown form. */
export function meets(value: number, target: string): boolean | undefined {
  const m = /^(<=|>=|<|>)(\d+(?:\.\d+)?)$/.exec(target);
  if (!m) return undefined;
  const t = Number(m[2]);
  switch (m[1]) {
    case '<':
      return value < t;
    case '<=':
      return value <= t;
    case '>':
      return value > t;
    default:
      return value >= t;
  }
}

function lastLines(text: string, n: number): string[] {
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '')
    .slice(-n);
}

/** The benchmark scripts beside this one (every `*.js` but the runner itself), sorted. */
export function discover(dir: string, self: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.js') && f !== path.basename(self))
    .sort()
    .map((f) => path.join(dir, f));
}

function runOne(file: string, rounds: number, timeoutMs: number): Promise<BenchOutcome> {
  const bench = path.basename(file, '.js');
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file, '--rounds', String(rounds)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ok = code === 0;
      const ratios = parseRatios(bench, out);
      // For a failure, the first error line says more than the end of a stack trace.
      const firstError = (err || out).split('\n').find((l) => /\b\w*Error\b|^error:/i.test(l) && !/^\s+at /.test(l));
      const tail = ok ? lastLines(out, 4) : [...(firstError ? [firstError.trim()] : lastLines(err || out, 2)), signal ? `(killed by ${signal})` : `(exit ${code})`];
      resolve({ bench, ok, seconds: (Date.now() - t0) / 1000, ratios, tail });
    });
  });
}

export function formatTable(outcomes: readonly BenchOutcome[], markdown = false): string {
  const rows: string[][] = [];
  for (const o of outcomes) {
    if (o.ratios.length > 0) {
      for (const r of o.ratios) {
        const verdict = meets(r.value, r.target);
        rows.push([r.name, r.value.toFixed(3), r.target, verdict === undefined ? '' : verdict ? 'ok' : 'MISSED', r.what]);
      }
    }
    if (!o.ok || o.ratios.length === 0) {
      rows.push([`${o.bench} (no RATIO lines${o.ok ? '' : ', FAILED'})`, '', '', '', o.tail.join(' | ')]);
    }
  }
  const head = ['benchmark', 'ratio', 'target', '', 'podkit vs peer'];
  if (markdown) {
    const esc = (s: string) => s.replace(/\|/g, '\\|');
    return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (i === 4 ? 0 : (r[i] ?? '').length))));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === 4 ? c : i === 1 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [fmt(head), ...rows.map(fmt)].join('\n');
}

export function parseRunAllArgs(argv: readonly string[]): { rounds: number; only?: string[]; markdown: boolean; timeoutMs: number } {
  const get = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const rounds = Number(get('--rounds') ?? 3);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds: must be a positive integer');
  const timeoutS = Number(get('--timeout') ?? 900);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new Error('--timeout: must be a positive number of seconds');
  const only = get('--only')?.split(',').filter(Boolean);
  return { rounds, ...(only ? { only } : {}), markdown: argv.includes('--markdown'), timeoutMs: timeoutS * 1000 };
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  let opts: ReturnType<typeof parseRunAllArgs>;
  try {
    opts = parseRunAllArgs(argv);
  } catch (err) {
    process.stderr.write(`bench run-all: ${(err as Error).message}\nusage: run-all [--rounds N] [--only a,b] [--timeout S] [--markdown]\n`);
    process.exitCode = 2;
    return;
  }
  const files = discover(__dirname, __filename).filter((f) => !opts.only || opts.only.includes(path.basename(f, '.js')));
  const outcomes: BenchOutcome[] = [];
  for (const f of files) {
    process.stderr.write(`bench ${path.basename(f, '.js')} (--rounds ${opts.rounds})...\n`);
    const o = await runOne(f, opts.rounds, opts.timeoutMs);
    process.stderr.write(`  ${o.ok ? 'done' : 'FAILED'} in ${o.seconds.toFixed(1)} s, ${o.ratios.length} ratio line(s)\n`);
    outcomes.push(o);
  }
  process.stdout.write(`${formatTable(outcomes, opts.markdown)}\n`);
  if (outcomes.some((o) => !o.ok)) process.exitCode = 1;
}

if (require.main === module) void main();
