/**
 * podrun — a runc-compatible CLI over @podkit/runtime-core. Exit codes and JSON shapes follow runc:
 * 1 on any failure; `run` and `exec` without --detach exit with the process's code (128+signal when
 * it was killed). Start-up stays lazy: the runtime modules are required inside the handlers.
 */
import type { Argv, ArgumentsCamelCase } from 'yargs';
// errdefs is tiny and dependency-free: imported statically. Everything heavier is required lazily.
import { AlreadyExistsError, exitCodeFor, invalidField, InvalidArgumentError } from '@podkit/errdefs';

interface GlobalArgs {
  root: string;
  log?: string;
  logFormat: 'text' | 'json';
  debug: boolean;
  systemdCgroup: boolean;
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/** Writes log lines to --log (text or json, as runc) and errors also to stderr. */
class Logger {
  constructor(private readonly g: GlobalArgs) {}

  private line(level: string, msg: string): string {
    const time = new Date().toISOString();
    return this.g.logFormat === 'json' ? `${JSON.stringify({ level, msg, time })}\n` : `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
  }

  log(level: 'debug' | 'info' | 'warning' | 'error', msg: string): void {
    if (level === 'debug' && !this.g.debug) return;
    const fs = require('node:fs') as typeof import('node:fs');
    if (this.g.log) {
      try {
        fs.appendFileSync(this.g.log, this.line(level, msg));
      } catch {
        /* the log is best effort */
      }
    }
    // Errors always reach stderr (as runc's do); the rest goes to stderr only when there is no --log.
    if (level === 'error' || !this.g.log) fs.writeSync(2, `podrun: ${level === 'error' ? '' : `${level}: `}${msg}\n`);
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

function checkGlobal(g: GlobalArgs): void {
  if (g.systemdCgroup) {
    throw invalidField('--systemd-cgroup', 'the systemd cgroup driver is not supported by podrun; use cgroupfs paths');
  }
}

function parseUser(value: string): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(value);
  if (!m) {
    throw invalidField('--user', `"${value}" must be uid[:gid] (numbers)`);
  }
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

type Handler<T> = (g: ArgumentsCamelCase<GlobalArgs & T>, logger: Logger) => Promise<void> | void;

function action<T>(fn: Handler<T>): (argv: ArgumentsCamelCase<GlobalArgs & T>) => Promise<void> {
  return async (argv) => {
    const logger = new Logger(argv);
    try {
      checkGlobal(argv);
      await fn(argv, logger);
    } catch (err) {
      logger.log('error', (err as Error).message ?? String(err));
      const stack = (err as Error).stack;
      if (argv.debug && stack) logger.log('debug', stack);
      process.exitCode = exitCodeFor(err);
    }
  };
}

function withCreateOptions<T>(y: Argv<T>) {
  return y
    .positional('id', { type: 'string', demandOption: true, describe: 'container id' })
    .option('bundle', { alias: 'b', type: 'string', default: '.', describe: 'path to the bundle (default: current directory)' })
    .option('pid-file', { type: 'string', describe: 'write the container process id to this file' })
    .option('console-socket', { type: 'string', describe: 'not supported yet' })
    .option('no-pivot', { type: 'boolean', default: false, describe: 'use MS_MOVE + chroot instead of pivot_root' })
    .option('no-new-keyring', { type: 'boolean', default: false, describe: 'accepted for compatibility (podrun makes no session keyring)' })
    .option('preserve-fds', { type: 'number', default: 0, describe: 'not supported yet' });
}

function rejectUnsupportedCreate(argv: { consoleSocket?: string; preserveFds?: number }): void {
  if (argv.consoleSocket) throw invalidField('--console-socket', 'terminals are not supported by podrun yet');
  if (argv.preserveFds) throw invalidField('--preserve-fds', 'preserving extra fds is not supported by podrun yet');
}

interface CreateArgs {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot: boolean;
  preserveFds: number;
}

async function createFromCli(argv: GlobalArgs & CreateArgs, logger: Logger) {
  rejectUnsupportedCreate(argv);
  const { create } = require('../container/create') as typeof import('../container/create');
  const created = await create(runtimeStore(argv), argv.id, { bundle: argv.bundle, pidFile: argv.pidFile, noPivot: argv.noPivot });
  for (const w of created.warnings) logger.log('warning', w);
  return created;
}

export function buildParser(argv: string[]): Argv<GlobalArgs> {
  const yargs = require('yargs/yargs') as typeof import('yargs/yargs');
  return yargs(argv)
    .scriptName('podrun')
    .usage('$0 [global options] <command> [options]\n\npodrun runs OCI bundles (a runc-compatible CLI of podkit).')
    .option('root', { type: 'string', default: '/run/podkit/runtime', describe: 'state folder' })
    .option('log', { type: 'string', describe: 'log file (default: stderr)' })
    .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const, describe: 'log format' })
    .option('debug', { type: 'boolean', default: false, describe: 'debug logging' })
    .option('systemd-cgroup', { type: 'boolean', default: false, describe: 'not supported (cgroupfs only)' })
    .command(
      'spec',
      'write a default config.json into the bundle',
      (y) => y.option('bundle', { alias: 'b', type: 'string', default: '.' }).option('rootless', { type: 'boolean', default: false }),
      action<{ bundle: string; rootless: boolean }>((a) => {
        const fs = require('node:fs') as typeof import('node:fs');
        const path = require('node:path') as typeof import('node:path');
        const { defaultSpec } = require('../container/spec-file') as typeof import('../container/spec-file');
        const file = path.join(a.bundle, 'config.json');
        if (fs.existsSync(file)) throw new AlreadyExistsError(`File ${file} exists. Remove it first`);
        fs.writeFileSync(file, `${JSON.stringify(defaultSpec({ rootless: a.rootless }), null, '\t')}\n`);
      }),
    )
    .command(
      'create <id>',
      'create a container (its process waits for `start`)',
      (y) => withCreateOptions(y),
      action<CreateArgs>(async (a, logger) => {
        const created = await createFromCli(a, logger);
        require('node:fs').closeSync(created.pidfd);
      }),
    )
    .command(
      'start <id>',
      'start a created container',
      (y) => y.positional('id', { type: 'string', demandOption: true }),
      action<{ id: string }>(async (a) => {
        const { start } = require('../container/start') as typeof import('../container/start');
        await start(runtimeStore(a), a.id);
      }),
    )
    .command(
      'run <id>',
      'create and start a container; without --detach, wait for it, delete it and exit with its code',
      (y) => withCreateOptions(y).option('detach', { alias: 'd', type: 'boolean', default: false }).option('keep', { type: 'boolean', default: false }),
      action<CreateArgs & { detach: boolean; keep: boolean }>(async (a, logger) => {
        const created = await createFromCli(a, logger);
        const fs = require('node:fs') as typeof import('node:fs');
        const { start } = require('../container/start') as typeof import('../container/start');
        const store = runtimeStore(a);
        if (a.detach) {
          fs.closeSync(created.pidfd);
          await start(store, a.id);
          return;
        }
        const code = waitAndForward(created.pidfd, logger);
        try {
          await start(store, a.id);
        } catch (err) {
          const { deleteContainer } = require('../container/delete') as typeof import('../container/delete');
          await deleteContainer(store, a.id, { force: true }).catch(() => undefined);
          throw err;
        }
        process.exitCode = await code;
        fs.closeSync(created.pidfd);
        if (!a.keep) {
          const { deleteContainer } = require('../container/delete') as typeof import('../container/delete');
          await deleteContainer(store, a.id, { force: true });
        }
      }),
    )
    .command(
      'state <id>',
      'print the state of a container (JSON)',
      (y) => y.positional('id', { type: 'string', demandOption: true }),
      action<{ id: string }>((a) => {
        const { state } = require('../container/query') as typeof import('../container/query');
        process.stdout.write(`${JSON.stringify(state(runtimeStore(a), a.id), null, '  ')}\n`);
      }),
    )
    .command(
      'kill <id> [signal]',
      'send a signal (name or number, default SIGTERM) to the container',
      (y) =>
        y
          .positional('id', { type: 'string', demandOption: true })
          .positional('signal', { type: 'string', default: 'SIGTERM' })
          .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'signal every process of the container' }),
      action<{ id: string; signal: string; all: boolean }>((a) => {
        const { kill } = require('../container/kill') as typeof import('../container/kill');
        const { parseSignal } = require('../sys/process') as typeof import('../sys/process');
        kill(runtimeStore(a), a.id, parseSignal(a.signal), { all: a.all });
      }),
    )
    .command(
      'delete <id>',
      'delete a container',
      (y) => y.positional('id', { type: 'string', demandOption: true }).option('force', { alias: 'f', type: 'boolean', default: false }),
      action<{ id: string; force: boolean }>(async (a) => {
        const { deleteContainer } = require('../container/delete') as typeof import('../container/delete');
        await deleteContainer(runtimeStore(a), a.id, { force: a.force });
      }),
    )
    .command(
      'exec <id> [command..]',
      'run a process in a container',
      (y) =>
        y
          .positional('id', { type: 'string', demandOption: true })
          .positional('command', { type: 'string', array: true, default: [] as string[] })
          .option('process', { alias: 'p', type: 'string', describe: 'path to a process.json' })
          .option('detach', { alias: 'd', type: 'boolean', default: false })
          .option('pid-file', { type: 'string' })
          .option('cwd', { type: 'string' })
          .option('env', { alias: 'e', type: 'string', array: true, default: [] as string[] })
          .option('user', { alias: 'u', type: 'string', describe: 'uid[:gid]' })
          .option('additional-gids', { alias: 'g', type: 'number', array: true })
          .option('tty', { alias: 't', type: 'boolean', default: false })
          .option('console-socket', { type: 'string' }),
      action<{
        id: string;
        command: string[];
        process?: string;
        detach: boolean;
        pidFile?: string;
        cwd?: string;
        env: string[];
        user?: string;
        additionalGids?: number[];
        tty: boolean;
        consoleSocket?: string;
      }>(async (a, logger) => {
        if (a.tty || a.consoleSocket) throw invalidField('--tty', 'terminals are not supported by podrun yet');
        const fs = require('node:fs') as typeof import('node:fs');
        const { exec } = require('../container/exec') as typeof import('../container/exec');
        let processDoc: unknown;
        if (a.process) {
          try {
            processDoc = JSON.parse(fs.readFileSync(a.process, 'utf8'));
          } catch (err) {
            throw invalidField('--process', `cannot read ${a.process}: ${(err as Error).message}`);
          }
        }
        const command = [...a.command, ...((a as unknown as { '--'?: (string | number)[] })['--'] ?? []).map(String)];
        if (!a.process && command.length === 0) {
          throw invalidField('command', 'give the command to run, or --process');
        }
        const user = a.user ? { ...parseUser(a.user), ...(a.additionalGids ? { additionalGids: a.additionalGids } : {}) } : undefined;
        const r = await exec(runtimeStore(a), a.id, { process: processDoc, args: command, cwd: a.cwd, env: a.env, user, pidFile: a.pidFile });
        for (const w of r.warnings) logger.log('warning', w);
        if (a.detach) {
          fs.closeSync(r.pidfd);
          return;
        }
        process.exitCode = await waitAndForward(r.pidfd, logger);
        fs.closeSync(r.pidfd);
      }),
    )
    .command(
      ['list', 'ps'],
      'list containers',
      (y) => y.option('format', { alias: 'f', choices: ['table', 'json'] as const, default: 'table' as const }).option('quiet', { alias: 'q', type: 'boolean', default: false }),
      action<{ format: 'table' | 'json'; quiet: boolean }>((a) => {
        const { list } = require('../container/query') as typeof import('../container/query');
        const all = list(runtimeStore(a));
        if (a.quiet) {
          process.stdout.write(all.map((c) => `${c.id}\n`).join(''));
        } else if (a.format === 'json') {
          // runc (Go) prints `null` for no containers.
          process.stdout.write(`${all.length === 0 ? 'null' : JSON.stringify(all)}\n`);
        } else {
          const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...all.map((c) => [c.id, String(c.pid), c.status, c.bundle, c.created, c.owner])];
          const widths = rows.reduce<number[]>((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), []);
          process.stdout.write(rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('')).join('\n') + '\n');
        }
      }),
    )
    .demandCommand(1, 'give a command (see --help)')
    .parserConfiguration({ 'populate--': true })
    .strict()
    .version(false)
    .help()
    .fail((msg, err) => {
      if (err) throw err;
      // Thrown (not printed here) so yargs runs no handler after a usage error.
      throw new InvalidArgumentError(msg, { details: { usage: true } });
    }) as unknown as Argv<GlobalArgs>;
}

const GLOBAL_VALUE_OPTIONS = new Set(['--root', '--log', '--log-format']);
const EXEC_VALUE_OPTIONS = new Set(['--process', '-p', '--pid-file', '--cwd', '--env', '-e', '--user', '-u', '--additional-gids', '-g', '--console-socket']);

/**
 * `exec <id> <command...>`: everything after the id is the command, options included (`sh -c ...`),
 * as with runc. yargs would read `-c` as its own option, so a `--` is put before the command.
 */
export function splitExecCommand(argv: readonly string[]): string[] {
  let i = 0;
  while (i < argv.length && argv[i] !== 'exec') {
    const a = argv[i] as string;
    i += a.startsWith('-') && !a.includes('=') && GLOBAL_VALUE_OPTIONS.has(a) ? 2 : 1;
  }
  if (i >= argv.length) return [...argv];
  let seenId = false;
  for (let j = i + 1; j < argv.length; j++) {
    const a = argv[j] as string;
    if (a === '--') return [...argv];
    if (a.startsWith('-') && a !== '-') {
      if (!a.includes('=') && EXEC_VALUE_OPTIONS.has(a)) j++;
      continue;
    }
    if (!seenId) {
      seenId = true;
      continue;
    }
    return [...argv.slice(0, j), '--', ...argv.slice(j)];
  }
  return [...argv];
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildParser(splitExecCommand(argv)).parseAsync();
  } catch (err) {
    require('node:fs').writeSync(2, `podrun: ${(err as Error).message}\n`);
    process.exitCode = exitCodeFor(err);
  }
}
