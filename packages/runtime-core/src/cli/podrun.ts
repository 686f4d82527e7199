/**
 * podrun — a runc-compatible CLI over @podkit/runtime-core, a drop-in for containerd's runc shim
 * (go-runc). Exit codes and JSON shapes follow runc: 1 on any failure (2 on a usage error); `run` and
 * `exec` without --detach exit with the process's code (128+signal when it was killed). Errors go to
 * stderr and, with --log, to the log file (`--log-format json`: `{"level","msg","time"}` lines, which
 * the shim reads to report the error).
 *
 * Start-up is the runtime's latency (the shim runs podrun once per verb), so: argv is parsed by the
 * hand-written table parser (./args), yargs is loaded only for --help and usage errors, and every
 * runtime module is required inside its handler.
 */
import { AlreadyExistsError, exitCodeFor, InvalidArgumentError, invalidField, UnimplementedError } from '@podkit/errdefs';
import type { LinuxResources } from '@podkit/oci-spec';
import { COMMANDS, GLOBAL_OPTIONS, NotFastPath, parseArgs, type OptionSpec, type Parsed } from './args';

interface GlobalArgs {
  root: string;
  log?: string;
  logFormat: 'text' | 'json';
  debug: boolean;
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

const fsm = (): typeof import('node:fs') => require('node:fs') as typeof import('node:fs');

/** Writes log lines to --log (text or json, as runc) and errors also to stderr. */
class Logger {
  constructor(private readonly g: GlobalArgs) {}

  private line(level: string, msg: string): string {
    const time = new Date().toISOString();
    return this.g.logFormat === 'json' ? `${JSON.stringify({ level, msg, time })}\n` : `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
  }

  log(level: 'debug' | 'info' | 'warning' | 'error', msg: string): void {
    if (level === 'debug' && !this.g.debug) return;
    const fs = fsm();
    if (this.g.log) {
      try {
        fs.appendFileSync(this.g.log, this.line(level, msg));
      } catch {
        /* the log is best effort */
      }
    }
    // Errors always reach stderr (as runc's do); the rest goes to stderr only when there is no --log.
    if (level === 'error' || !this.g.log) {
      try {
        fs.writeSync(2, `podrun: ${level === 'error' ? '' : `${level}: `}${msg}\n`);
      } catch {
        /* stderr closed: the log file (if any) has it */
      }
    }
  }
}

function exitCodeOf(s: { exitCode: number | null; signal: number | null }): number {
  if (s.exitCode !== null) return s.exitCode;
  if (s.signal !== null) return 128 + s.signal;
  return 255;
}

function runtimeStore(g: GlobalArgs) {
  const { StateStore } = require('../container/store') as typeof import('../container/store');
  return new StateStore(g.root);
}

function parseUser(value: string): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(value);
  if (!m) throw invalidField('--user', `"${value}" must be uid[:gid] (numbers)`);
  return { uid: Number(m[1]), gid: Number(m[2] ?? 0) };
}

async function waitAndForward(pidfd: number, logger: Logger): Promise<number> {
  const proc = require('../sys/process') as typeof import('../sys/process');
  const { exited } = proc.watchExit(pidfd);
  const handlers = FORWARDED_SIGNALS.map((sig) => {
    const h = () => {
      try {
        proc.pidfdSignal(pidfd, proc.parseSignal(sig));
      } catch (err) {
        logger.log('debug', `forwarding ${sig}: ${(err as Error).message}`);
      }
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  try {
    return exitCodeOf(await exited);
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

async function createFromCli(p: Parsed, g: GlobalArgs, logger: Logger) {
  const { create } = require('../container/create') as typeof import('../container/create');
  const created = await create(runtimeStore(g), p.positionals['id'] as string, {
    bundle: str(p.opts['bundle']),
    pidFile: str(p.opts['pid-file']),
    noPivot: p.opts['no-pivot'] === true,
    consoleSocket: str(p.opts['console-socket']),
    preserveFds: typeof p.opts['preserve-fds'] === 'number' ? p.opts['preserve-fds'] : 0,
  });
  for (const w of created.warnings) logger.log('warning', w);
  return created;
}

/** Go duration strings (`5s`, `500ms`, `1m30s`) in milliseconds. */
export function parseDuration(value: string, field: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let i = 0;
  if (value === '') throw invalidField(field, 'must be a duration such as 5s or 500ms');
  while (i < value.length) {
    re.lastIndex = i;
    const m = re.exec(value);
    if (!m) throw invalidField(field, `"${value}" is not a duration (e.g. 5s, 500ms, 1m30s)`);
    total += Number(m[1]) * (units[m[2] as string] as number);
    i = re.lastIndex;
  }
  if (total <= 0) throw invalidField(field, 'must be positive');
  return total;
}

/** Byte sizes as runc's update flags take them: a number, optionally with k/m/g/t (binary) suffix; -1 for none. */
export function parseBytes(value: string, field: string): number {
  const m = /^(-1|\d+)([kmgt]?)b?$/i.exec(value.trim());
  if (!m) throw invalidField(field, `"${value}" must be a number of bytes, optionally with k, m, g or t`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[(m[2] as string).toLowerCase()] as number;
  return Number(m[1]) === -1 ? -1 : Number(m[1]) * mult;
}

function parseInteger(value: string, field: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw invalidField(field, `"${value}" must be an integer`);
  return Number(value);
}

/** `update`: the resources document (--resources file or - for stdin) with the single-value flags on top. */
export function updateResources(o: Parsed['opts'], readStdin: () => string): LinuxResources {
  let r: LinuxResources = {};
  const file = str(o['resources']);
  if (file !== undefined) {
    let text: string;
    try {
      text = file === '-' ? readStdin() : fsm().readFileSync(file, 'utf8');
    } catch (err) {
      throw invalidField('--resources', `cannot read ${file === '-' ? 'stdin' : file}: ${(err as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw invalidField('--resources', `not valid JSON: ${(err as Error).message}`);
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw invalidField('--resources', 'must be a JSON object (LinuxResources)');
    r = doc as LinuxResources;
  }
  const flag = (name: string) => str(o[name]);
  const memory = { ...(r.memory ?? {}) };
  const cpu = { ...(r.cpu ?? {}) };
  if (flag('memory') !== undefined) memory.limit = parseBytes(flag('memory') as string, '--memory');
  if (flag('memory-reservation') !== undefined) memory.reservation = parseBytes(flag('memory-reservation') as string, '--memory-reservation');
  if (flag('memory-swap') !== undefined) memory.swap = parseBytes(flag('memory-swap') as string, '--memory-swap');
  if (flag('cpu-shares') !== undefined) cpu.shares = parseInteger(flag('cpu-shares') as string, '--cpu-shares');
  if (flag('cpu-period') !== undefined) cpu.period = parseInteger(flag('cpu-period') as string, '--cpu-period');
  if (flag('cpu-quota') !== undefined) cpu.quota = parseInteger(flag('cpu-quota') as string, '--cpu-quota');
  if (flag('cpuset-cpus') !== undefined) cpu.cpus = flag('cpuset-cpus') as string;
  if (flag('cpuset-mems') !== undefined) cpu.mems = flag('cpuset-mems') as string;
  if (Object.keys(memory).length) r.memory = memory;
  if (Object.keys(cpu).length) r.cpu = cpu;
  if (flag('pids-limit') !== undefined) r.pids = { limit: parseInteger(flag('pids-limit') as string, '--pids-limit') };
  // Checked as the `linux.resources` of a config (the schema), so a wrong type or value is named, not written.
  const { ociRuntime } = require('../container/oci') as typeof import('../container/oci');
  const checked = ociRuntime().checkSpec({ ociVersion: ociRuntime().OCI_VERSION, linux: { resources: r } });
  if (!checked.ok) throw invalidField('--resources', checked.issues.map((i) => `${i.path.replace('/linux/resources', '')}: ${i.reason}`).join('; '));
  const { unsupportedIssues } = require('../plan/build') as typeof import('../plan/build');
  const issues = unsupportedIssues({ ociVersion: '1.2.0', linux: { resources: r } }).map((i) => `${i.path.replace('/linux/resources', '')}: ${i.reason}`);
  if (issues.length) throw invalidField('--resources', issues.join('; '));
  return r;
}

type Handler = (p: Parsed, g: GlobalArgs, logger: Logger) => Promise<void> | void;

const id = (p: Parsed): string => p.positionals['id'] as string;
const out = (s: string): void => void process.stdout.write(s);

const HANDLERS: Record<string, Handler> = {
  spec: (p) => {
    const fs = fsm();
    const path = require('node:path') as typeof import('node:path');
    const { defaultSpec } = require('../container/spec-file') as typeof import('../container/spec-file');
    const file = path.join(str(p.opts['bundle']) ?? '.', 'config.json');
    if (fs.existsSync(file)) throw new AlreadyExistsError(`File ${file} exists. Remove it first`);
    fs.writeFileSync(file, `${JSON.stringify(defaultSpec({ rootless: p.opts['rootless'] === true }), null, '\t')}\n`);
  },
  create: async (p, g, logger) => {
    const created = await createFromCli(p, g, logger);
    fsm().closeSync(created.pidfd);
  },
  start: async (p, g, logger) => {
    const { start } = require('../container/start') as typeof import('../container/start');
    for (const w of await start(runtimeStore(g), id(p))) logger.log('warning', w);
  },
  run: async (p, g, logger) => {
    const created = await createFromCli(p, g, logger);
    const fs = fsm();
    const { start } = require('../container/start') as typeof import('../container/start');
    const store = runtimeStore(g);
    if (p.opts['detach'] === true) {
      fs.closeSync(created.pidfd);
      for (const w of await start(store, id(p))) logger.log('warning', w);
      return;
    }
    const code = waitAndForward(created.pidfd, logger);
    const { deleteContainer } = require('../container/delete') as typeof import('../container/delete');
    const { startCreated } = require('../container/start') as typeof import('../container/start');
    try {
      // Just created, and its pidfd in hand: no need to look the container up again.
      for (const w of await startCreated(store, created.record, created.pidfd)) logger.log('warning', w);
    } catch (err) {
      await deleteContainer(store, id(p), { force: true }).catch(() => undefined);
      throw err;
    }
    process.exitCode = await code;
    fs.closeSync(created.pidfd);
    if (p.opts['keep'] !== true) for (const w of await deleteContainer(store, id(p), { force: true })) logger.log('warning', w);
  },
  state: (p, g) => {
    const { state } = require('../container/query') as typeof import('../container/query');
    out(`${JSON.stringify(state(runtimeStore(g), id(p)), null, '  ')}\n`);
  },
  kill: async (p, g) => {
    const { kill } = require('../container/kill') as typeof import('../container/kill');
    const { parseSignal } = require('../sys/process') as typeof import('../sys/process');
    await kill(runtimeStore(g), id(p), parseSignal((p.positionals['signal'] as string | undefined) ?? 'SIGTERM'), { all: p.opts['all'] === true });
  },
  delete: async (p, g, logger) => {
    const { deleteContainer } = require('../container/delete') as typeof import('../container/delete');
    for (const w of await deleteContainer(runtimeStore(g), id(p), { force: p.opts['force'] === true })) logger.log('warning', w);
  },
  exec: async (p, g, logger) => {
    const o = p.opts;
    const fs = fsm();
    const { exec } = require('../container/exec') as typeof import('../container/exec');
    let processDoc: unknown;
    const file = str(o['process']);
    if (file !== undefined) {
      try {
        processDoc = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch (err) {
        throw invalidField('--process', `cannot read ${file}: ${(err as Error).message}`);
      }
    }
    const command = strs(p.positionals['command']);
    if (file === undefined && command.length === 0) throw invalidField('command', 'give the command to run, or --process');
    const gids = strs(o['additional-gids']).map((x) => parseInteger(x, '--additional-gids'));
    const userFlag = str(o['user']);
    const user = userFlag ? { ...parseUser(userFlag), ...(gids.length ? { additionalGids: gids } : {}) } : undefined;
    const r = await exec(runtimeStore(g), id(p), { process: processDoc, args: command, cwd: str(o['cwd']), env: strs(o['env']), user, pidFile: str(o['pid-file']), tty: o['tty'] === true,
      consoleSocket: str(o['console-socket']),
      preserveFds: typeof o['preserve-fds'] === 'number' ? o['preserve-fds'] : 0,
    });
    for (const w of r.warnings) logger.log('warning', w);
    if (o['detach'] === true) {
      fs.closeSync(r.pidfd);
      return;
    }
    process.exitCode = await waitAndForward(r.pidfd, logger);
    fs.closeSync(r.pidfd);
  },
  ps: (p, g) => {
    const { pids } = require('../container/control') as typeof import('../container/control');
    const list = pids(runtimeStore(g), id(p));
    if (p.opts['format'] === 'json') {
      out(`${JSON.stringify(list)}\n`);
      return;
    }
    // As runc: `ps -ef`, keeping the header and the container's rows.
    const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
    const r = spawnSync('ps', ['-ef'], { encoding: 'utf8' });
    if (r.status !== 0) throw new InvalidArgumentError(`ps -ef failed: ${r.stderr}`);
    const lines = r.stdout.split('\n');
    const header = lines[0] ?? '';
    const col = header.split(/\s+/).filter(Boolean).indexOf('PID');
    const want = new Set(list.map(String));
    out(`${[header, ...lines.slice(1).filter((l) => want.has(l.trim().split(/\s+/)[col] ?? ''))].join('\n')}\n`);
  },
  list: (p, g) => {
    const { list } = require('../container/query') as typeof import('../container/query');
    const all = list(runtimeStore(g));
    if (p.opts['quiet'] === true) {
      out(all.map((c) => `${c.id}\n`).join(''));
    } else if (p.opts['format'] === 'json') {
      // runc (Go) prints `null` for no containers.
      out(`${all.length === 0 ? 'null' : JSON.stringify(all)}\n`);
    } else {
      const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...all.map((c) => [c.id, String(c.pid), c.status, c.bundle, c.created, c.owner])];
      const widths = rows.reduce<number[]>((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), []);
      out(rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('')).join('\n') + '\n');
    }
  },
  pause: async (p, g) => {
    const { pause } = require('../container/control') as typeof import('../container/control');
    await pause(runtimeStore(g), id(p));
  },
  resume: async (p, g) => {
    const { resume } = require('../container/control') as typeof import('../container/control');
    await resume(runtimeStore(g), id(p));
  },
  update: (p, g, logger) => {
    const { update } = require('../container/control') as typeof import('../container/control');
    const r = updateResources(p.opts, () => fsm().readFileSync(0, 'utf8'));
    update(runtimeStore(g), id(p), r);
    // Settings accepted but not applied (memory.kernel), as create warns about them.
    const { resourceWarnings } = require('../cgroups/backend') as typeof import('../cgroups/backend');
    for (const w of resourceWarnings(r)) logger.log('warning', w);
  },
  events: async (p, g) => {
    const control = require('../container/control') as typeof import('../container/control');
    const store = runtimeStore(g);
    const cid = id(p);
    const emit = (type: string, data?: unknown) => out(`${JSON.stringify({ type, id: cid, ...(data !== undefined ? { data } : {}) })}\n`);
    if (p.opts['stats'] === true) {
      emit('stats', control.stats(store, cid));
      return;
    }
    const interval = parseDuration(str(p.opts['interval']) ?? '5s', '--interval');
    let ooms = control.oomKills(store, cid) ?? 0;
    // Stats every interval and an "oom" event per OOM kill, until the container stops (as runc).
    for (;;) {
      const rec = store.load(cid);
      const status = store.status(rec);
      // OOM kills first: the one that ended the container is reported before events exits.
      const now = control.oomKills(store, cid) ?? 0;
      for (; ooms < now; ooms++) emit('oom');
      if (status === 'stopped') return;
      emit('stats', control.stats(store, cid));
      await new Promise((r) => setTimeout(r, interval));
    }
  },
  features: () => {
    const { features } = require('../container/features') as typeof import('../container/features');
    const { ociRuntime } = require('../container/oci') as typeof import('../container/oci');
    const oci = ociRuntime();
    out(`${JSON.stringify(oci.validateFeatures(features(oci.OCI_VERSION)), null, '    ')}\n`);
  },
  checkpoint: () => {
    throw new UnimplementedError('checkpoint is not supported by podrun (no CRIU integration)');
  },
  restore: () => {
    throw new UnimplementedError('restore is not supported by podrun (no CRIU integration)');
  },
};

function globalsOf(p: Parsed): GlobalArgs {
  return {
    root: (str(p.opts['root']) ?? '/run/podkit/runtime') as string,
    ...(str(p.opts['log']) ? { log: str(p.opts['log']) } : {}),
    logFormat: p.opts['log-format'] === 'json' ? 'json' : 'text',
    debug: p.opts['debug'] === true,
  };
}

async function dispatch(p: Parsed): Promise<void> {
  const g = globalsOf(p);
  const logger = new Logger(g);
  try {
    if (p.opts['systemd-cgroup'] === true) {
      throw invalidField('--systemd-cgroup', 'the systemd cgroup driver is not supported by podrun; use cgroupfs paths (SystemdCgroup = false)');
    }
    logger.log('debug', `podrun ${p.command} ${JSON.stringify(p.positionals)}`);
    await (HANDLERS[p.command] as Handler)(p, g, logger);
  } catch (err) {
    logger.log('error', (err as Error).message ?? String(err));
    const stack = (err as Error).stack;
    if (g.debug && stack) logger.log('debug', stack);
    process.exitCode = exitCodeFor(err);
  }
}

function yargsOption(spec: OptionSpec): Record<string, unknown> {
  return {
    type: spec.kind === 'array' ? 'string' : spec.kind,
    ...(spec.kind === 'array' ? { array: true } : {}),
    ...(spec.alias ? { alias: spec.alias } : {}),
    ...(spec.choices ? { choices: spec.choices } : {}),
    ...(spec.default !== undefined ? { default: spec.default } : {}),
    describe: spec.describe,
  };
}

/**
 * The yargs parser generated from the command table: it prints --help and explains usage errors. Its
 * handlers do nothing: a command line yargs accepts is run by the table parser.
 */
export function buildParser(argv: string[]) {
  const yargs = require('yargs/yargs') as typeof import('yargs/yargs');
  let y = yargs(argv)
    .scriptName('podrun')
    .usage('$0 [global options] <command> [options]\n\npodrun runs OCI bundles (a runc-compatible CLI of podkit).');
  for (const [name, spec] of Object.entries(GLOBAL_OPTIONS)) y = y.option(name, yargsOption(spec));
  for (const [name, cmd] of Object.entries(COMMANDS)) {
    const usage = [name, ...cmd.positionals.map((p, i) => (i < cmd.required ? `<${p}>` : `[${p}]`))].join(' ');
    y = y.command(
      [usage, ...(cmd.aliases ?? [])],
      cmd.describe,
      (b) => {
        let c = b;
        for (const [o, spec] of Object.entries(cmd.options)) c = c.option(o, yargsOption(spec));
        return c;
      },
      () => undefined,
    );
  }
  return y
    .demandCommand(1, 'give a command (see --help)')
    .strict()
    .version(false)
    .help()
    .exitProcess(false)
    .fail((msg, err) => {
      if (err) throw err;
      throw new InvalidArgumentError(msg, { details: { usage: true } });
    });
}

export async function main(argv: string[]): Promise<void> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    // runc's shape (go-runc's Version() reads "<name> version X", "commit:" and "spec:" lines).
    const { ociRuntime } = require('../container/oci') as typeof import('../container/oci');
    const pkg = require('../../package.json') as { version: string };
    out(`podrun version ${pkg.version}\ncommit: podkit\nspec: ${ociRuntime().OCI_VERSION}\n`);
    return;
  }
  let parsed: Parsed;
  try {
    parsed = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof NotFastPath)) throw err;
    // Help or a usage error: yargs explains it (and prints help for --help).
    try {
      await buildParser(argv).parseAsync();
      if (!err.help) throw new InvalidArgumentError(err.message, { details: { usage: true } });
    } catch (e) {
      require('node:fs').writeSync(2, `podrun: ${(e as Error).message}\n`);
      process.exitCode = exitCodeFor(e);
    }
    return;
  }
  await dispatch(parsed);
}
