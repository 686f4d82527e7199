/**
 * `npm run demo`: podkit's main job — the tutorial's pod from scratch (see pod.ts), with its embedded
 * defaults: run state under /run/podkit-demo, image store and snapshots under /var/lib/podkit-demo.
 *
 *   node tools/dist/demo/main.js [--run-dir DIR] [--data-dir DIR] [--cleanup]
 *
 * `--cleanup` only tears down what a previous run left (the same teardown every run does first).
 *
 * Prints each check as PASS/FAIL; the exit code is 1 when any check fails, 2 on bad usage.
 */
export interface DemoArgs {
  runDir?: string;
  dataDir?: string;
  cleanup: boolean;
  help: boolean;
}

export function parseArgs(argv: readonly string[]): DemoArgs {
  const out: DemoArgs = { cleanup: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new Error(`${flag}: needs a folder`);
      return v;
    };
    if (flag === '--run-dir') out.runDir = value();
    else if (flag === '--data-dir') out.dataDir = value();
    else if (flag === '--cleanup' && inline === undefined) out.cleanup = true;
    else if ((flag === '-h' || flag === '--help') && inline === undefined) out.help = true;
    else throw new Error(`unknown argument "${a}"`);
  }
  return out;
}

const USAGE = `usage: podkit demo [--run-dir DIR] [--data-dir DIR] [--cleanup]
  --cleanup   only tear down what a previous (killed) run left, and prove nothing is left
  --run-dir   runtime state, pinned namespaces, bundles, the journal (default /run/podkit-demo)
  --data-dir  image store and snapshots (default /var/lib/podkit-demo)
`;

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  let args: DemoArgs;
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`podkit demo: ${(err as Error).message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('podkit demo: needs root (namespaces, mounts, cgroups, network namespaces)\n');
    process.exitCode = 1;
    return;
  }
  const { PodDemo } = require('./pod') as typeof import('./pod');
  try {
    const demo = new PodDemo({ runDir: args.runDir, dataDir: args.dataDir });
    const r = args.cleanup ? await demo.cleanupOnly() : await demo.run();
    if (r.failed > 0) process.exitCode = 1;
  } catch (err) {
    process.stderr.write(`podkit demo: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
