/**
 * podrun's command table and its hand-written argv parser. The table is the single description of
 * the CLI: the fast parser reads it for every invocation (no yargs at start-up: go-runc calls podrun
 * for every verb, so start-up time is the runtime's latency), and the yargs parser that prints
 * `--help` and usage errors is generated from it. Flags follow runc (urfave/cli): `--flag value`,
 * `--flag=value`, `-flag`, single-letter aliases, flags before or between positionals, `--` ends flags.
 */

export type OptionKind = 'boolean' | 'string' | 'number' | 'array';

export interface OptionSpec {
  kind: OptionKind;
  alias?: string;
  describe: string;
  /** Allowed values (strings). */
  choices?: readonly string[];
  default?: boolean | string | number | string[];
}

export interface CommandSpec {
  describe: string;
  /** Positional names; a trailing `name..` takes the rest (verbatim, flags included, as runc's exec). */
  positionals: readonly string[];
  /** How many positionals are required. */
  required: number;
  options: Readonly<Record<string, OptionSpec>>;
  aliases?: readonly string[];
}

export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  root: { kind: 'string', default: '/run/podkit/runtime', describe: 'state folder' },
  log: { kind: 'string', describe: 'log file (default: stderr)' },
  'log-format': { kind: 'string', choices: ['text', 'json'], default: 'text', describe: 'log format' },
  debug: { kind: 'boolean', default: false, describe: 'debug logging' },
  'systemd-cgroup': { kind: 'boolean', default: false, describe: 'not supported (cgroupfs only)' },
  rootless: { kind: 'string', describe: 'accepted for compatibility ("false" or "auto"); podrun runs as root' },
  criu: { kind: 'string', describe: 'accepted for compatibility (checkpoint/restore is not supported)' },
};

const CREATE_OPTIONS: Record<string, OptionSpec> = {
  bundle: { kind: 'string', alias: 'b', default: '.', describe: 'path to the bundle (default: current directory)' },
  'pid-file': { kind: 'string', describe: 'write the container process id to this file' },
  'console-socket': { kind: 'string', describe: 'unix socket to which the pty master of a terminal container is sent' },
  'no-pivot': { kind: 'boolean', default: false, describe: 'use MS_MOVE + chroot instead of pivot_root' },
  'no-new-keyring': { kind: 'boolean', default: false, describe: 'accepted for compatibility (podrun makes no session keyring)' },
  'preserve-fds': { kind: 'number', default: 0, describe: 'pass this many extra fds (from 3 on) to the container' },
};

const ID = ['id'];

export const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  spec: {
    describe: 'write a default config.json into the bundle',
    positionals: [],
    required: 0,
    options: { bundle: CREATE_OPTIONS['bundle'] as OptionSpec, rootless: { kind: 'boolean', default: false, describe: 'a rootless config' } },
  },
  create: { describe: 'create a container (its process waits for `start`)', positionals: ID, required: 1, options: CREATE_OPTIONS },
  start: { describe: 'start a created container', positionals: ID, required: 1, options: {} },
  run: {
    describe: 'create and start a container; without --detach, wait for it, delete it and exit with its code',
    positionals: ID,
    required: 1,
    options: {
      ...CREATE_OPTIONS,
      detach: { kind: 'boolean', alias: 'd', default: false, describe: 'do not wait for the container' },
      keep: { kind: 'boolean', default: false, describe: 'do not delete the container after it exits' },
    },
  },
  state: { describe: 'print the state of a container (JSON)', positionals: ID, required: 1, options: {} },
  kill: {
    describe: 'send a signal (name or number, default SIGTERM) to the container',
    positionals: ['id', 'signal'],
    required: 1,
    options: { all: { kind: 'boolean', alias: 'a', default: false, describe: 'signal every process of the container (frozen while signalled)' } },
  },
  delete: {
    describe: 'delete a container',
    positionals: ID,
    required: 1,
    options: { force: { kind: 'boolean', alias: 'f', default: false, describe: 'kill a running container first' } },
  },
  exec: {
    describe: 'run a process in a container',
    positionals: ['id', 'command..'],
    required: 1,
    options: {
      process: { kind: 'string', alias: 'p', describe: 'path to a process.json' },
      detach: { kind: 'boolean', alias: 'd', default: false, describe: 'do not wait for the process' },
      'pid-file': { kind: 'string', describe: 'write the process id to this file' },
      cwd: { kind: 'string', describe: 'working directory' },
      env: { kind: 'array', alias: 'e', default: [], describe: 'KEY=value (repeatable)' },
      user: { kind: 'string', alias: 'u', describe: 'uid[:gid]' },
      'additional-gids': { kind: 'array', alias: 'g', describe: 'supplementary gid (repeatable)' },
      tty: { kind: 'boolean', alias: 't', default: false, describe: 'a pty for the process (needs --console-socket)' },
      'console-socket': { kind: 'string', describe: 'unix socket to which the pty master is sent' },
      'preserve-fds': { kind: 'number', default: 0, describe: 'pass this many extra fds (from 3 on) to the process' },
      'no-new-privs': { kind: 'boolean', default: false, describe: 'set no_new_privs' },
      cap: { kind: 'array', alias: 'c', default: [], describe: 'an extra capability (repeatable)' },
      'process-label': { kind: 'string', describe: 'accepted for compatibility (no SELinux)' },
      'apparmor': { kind: 'string', describe: 'accepted for compatibility (no AppArmor)' },
    },
  },
  ps: {
    describe: 'list the processes of a container',
    positionals: ID,
    required: 1,
    options: { format: { kind: 'string', alias: 'f', choices: ['table', 'json'], default: 'table', describe: 'output format' } },
  },
  list: {
    describe: 'list containers',
    positionals: [],
    required: 0,
    options: {
      format: { kind: 'string', alias: 'f', choices: ['table', 'json'], default: 'table', describe: 'output format' },
      quiet: { kind: 'boolean', alias: 'q', default: false, describe: 'ids only' },
    },
  },
  pause: { describe: 'freeze every process of a container', positionals: ID, required: 1, options: {} },
  resume: { describe: 'thaw a paused container', positionals: ID, required: 1, options: {} },
  update: {
    describe: 'change the resource limits of a container',
    positionals: ID,
    required: 1,
    options: {
      resources: { kind: 'string', alias: 'r', describe: 'a LinuxResources JSON file, or - for stdin' },
      memory: { kind: 'string', describe: 'memory limit (bytes, or with k/m/g suffix; -1 for none)' },
      'memory-reservation': { kind: 'string', describe: 'memory soft limit' },
      'memory-swap': { kind: 'string', describe: 'memory + swap limit' },
      'cpu-shares': { kind: 'string', describe: 'CPU shares' },
      'cpu-period': { kind: 'string', describe: 'CFS period (µs)' },
      'cpu-quota': { kind: 'string', describe: 'CFS quota (µs, -1 for none)' },
      'cpuset-cpus': { kind: 'string', describe: 'CPUs' },
      'cpuset-mems': { kind: 'string', describe: 'memory nodes' },
      'pids-limit': { kind: 'string', describe: 'maximum number of processes (-1 or 0 for none)' },
    },
  },
  events: {
    describe: 'print container events (JSON lines): stats every interval, or one with --stats; OOM kills',
    positionals: ID,
    required: 1,
    options: {
      stats: { kind: 'boolean', default: false, describe: 'print the stats once and exit' },
      interval: { kind: 'string', default: '5s', describe: 'stats interval (Go duration, e.g. 5s, 500ms)' },
    },
  },
  features: { describe: 'print the runtime-spec features document (JSON)', positionals: [], required: 0, options: {} },
  checkpoint: { describe: 'not supported', positionals: ID, required: 0, options: {} },
  restore: { describe: 'not supported', positionals: ID, required: 0, options: {} },
};

export type ParsedValue = boolean | string | number | string[] | undefined;

export interface Parsed {
  command: string;
  /** Options by their long name (global ones included), defaults filled in. */
  opts: Record<string, ParsedValue>;
  positionals: Record<string, string | string[] | undefined>;
}

/** Why the fast parser gave up: the caller then runs yargs, which prints help or the usage error. */
export class NotFastPath extends Error {
  /** True when the argv asked for help or the version (yargs answers; not a usage error). */
  constructor(
    message: string,
    readonly help = false,
  ) {
    super(message);
  }
}

function lookup(table: Readonly<Record<string, OptionSpec>>, name: string): [string, OptionSpec] | undefined {
  const direct = table[name];
  if (direct) return [name, direct];
  for (const [long, spec] of Object.entries(table)) if (spec.alias === name) return [long, spec];
  return undefined;
}

function setOption(opts: Record<string, ParsedValue>, long: string, spec: OptionSpec, raw: string | undefined): void {
  if (spec.kind === 'boolean') {
    if (raw === undefined || raw === 'true') opts[long] = true;
    else if (raw === 'false') opts[long] = false;
    else throw new NotFastPath(`--${long}: expected true or false`);
    return;
  }
  if (raw === undefined) throw new NotFastPath(`--${long} needs a value`);
  if (spec.choices && !spec.choices.includes(raw)) throw new NotFastPath(`--${long}: invalid value`);
  if (spec.kind === 'number') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new NotFastPath(`--${long}: not a number`);
    opts[long] = n;
  } else if (spec.kind === 'array') {
    const prev = opts[long];
    opts[long] = [...(Array.isArray(prev) ? prev : []), raw];
  } else {
    opts[long] = raw;
  }
}

function defaults(table: Readonly<Record<string, OptionSpec>>, into: Record<string, ParsedValue>): void {
  for (const [long, spec] of Object.entries(table)) {
    if (spec.default !== undefined && into[long] === undefined) into[long] = Array.isArray(spec.default) ? [...spec.default] : spec.default;
  }
}

/**
 * Parses argv against the table. Throws NotFastPath for anything it does not fully understand (help,
 * unknown verbs or flags, missing values); the caller falls back to yargs for the message.
 */
export function parseArgs(argv: readonly string[]): Parsed {
  const opts: Record<string, ParsedValue> = {};
  let i = 0;
  // Global flags, up to the verb.
  let command: string | undefined;
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('-') || a === '-') {
      command = a;
      i++;
      break;
    }
    i = takeFlag(argv, i, GLOBAL_OPTIONS, opts);
  }
  if (command === undefined) throw new NotFastPath('no command');
  const canonical = Object.entries(COMMANDS).find(([name, c]) => name === command || c.aliases?.includes(command as string));
  if (!canonical) throw new NotFastPath(`unknown command ${command}`);
  const [name, spec] = canonical;
  const table = { ...GLOBAL_OPTIONS, ...spec.options };
  const pos: string[] = [];
  const rest = spec.positionals.at(-1)?.endsWith('..') ? spec.positionals.length - 1 : -1;
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      pos.push(...argv.slice(i + 1));
      break;
    }
    // Once the variadic positional started, everything is the command (`exec id sh -c 'x'`).
    if (rest >= 0 && pos.length > rest) {
      pos.push(a);
      continue;
    }
    if (a.startsWith('-') && a !== '-') {
      i = takeFlag(argv, i, table, opts);
      continue;
    }
    pos.push(a);
  }
  defaults(table, opts);
  const positionals: Record<string, string | string[] | undefined> = {};
  spec.positionals.forEach((p, k) => {
    if (p.endsWith('..')) positionals[p.slice(0, -2)] = pos.slice(k);
    else positionals[p] = pos[k];
  });
  if (rest < 0 && pos.length > spec.positionals.length) throw new NotFastPath('too many arguments');
  if (pos.length < spec.required) throw new NotFastPath('missing arguments');
  return { command: name, opts, positionals };
}

/** Reads the flag at argv[i] (and its value); returns the index of the last element consumed. */
function takeFlag(argv: readonly string[], i: number, table: Readonly<Record<string, OptionSpec>>, opts: Record<string, ParsedValue>): number {
  const a = argv[i] as string;
  const body = a.startsWith('--') ? a.slice(2) : a.slice(1);
  const eq = body.indexOf('=');
  const name = eq >= 0 ? body.slice(0, eq) : body;
  if (name === 'help' || name === 'h' || name === 'version' || name === 'v') throw new NotFastPath('help', true);
  const found = lookup(table, name);
  if (!found) throw new NotFastPath(`unknown flag ${a}`);
  const [long, spec] = found;
  if (eq >= 0) {
    setOption(opts, long, spec, body.slice(eq + 1));
    return i;
  }
  if (spec.kind === 'boolean') {
    setOption(opts, long, spec, undefined);
    return i;
  }
  setOption(opts, long, spec, argv[i + 1]);
  return i + 1;
}
