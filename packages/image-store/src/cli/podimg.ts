/**
 * podimg: the image-store CLI.
 *
 *   podimg [--root DIR] [--insecure-registry HOST:PORT]... [--auth-file FILE] [--hosts-config FILE]
 *          [-o json|table] <command>
 *
 * Global options may also follow the command (`podimg push --auth-file F ref`).
 *
 * Each command is a file in ./commands (listed in ./commands/index.ts). Errors print one line on
 * stderr and exit with the errdefs code's exit status.
 */
import type { Argv } from 'yargs';
import { exitCodeFor, isPodkitError } from '@podkit/errdefs';
import { DEFAULT_ROOT } from './common';
import type { GlobalArgs } from './common';
import { COMMANDS } from './commands';

export { DEFAULT_ROOT } from './common';

export function buildParser(argv: string[]): Argv<GlobalArgs> {
  const yargs = require('yargs/yargs') as (a: string[]) => Argv;
  let y = yargs(argv)
    .scriptName('podimg')
    .strict()
    .option('root', { type: 'string', default: DEFAULT_ROOT, describe: 'image store directory' })
    .option('insecure-registry', {
      type: 'string',
      // Not `array: true`: that would swallow the command and its arguments after the option.
      coerce: (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]),
      describe: 'registry (host:port) reached over plain HTTP; repeatable',
    })
    .option('auth-file', { type: 'string', describe: 'credentials file (docker config.json format; default $DOCKER_CONFIG/config.json, else ~/.docker/config.json)' })
    .option('hosts-config', { type: 'string', describe: 'registry hosts config (mirrors, TLS; default /etc/podkit/registries.json if present)' })
    .option('output', { alias: 'o', choices: ['json', 'table'] as const, default: 'table' as const, describe: 'output format' }) as unknown as Argv<GlobalArgs>;
  for (const c of COMMANDS) y = c.register(y);
  return y
    .demandCommand(1, 'a command is required')
    .help()
    .fail(false) as unknown as Argv<GlobalArgs>;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildParser(argv).parseAsync();
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`podimg: ${msg.split('\n')[0]}\n`);
    process.exitCode = isPodkitError(err) ? exitCodeFor(err) : 1;
  }
}
