import type { Argv } from 'yargs';
import { invalidField } from '@podkit/errdefs';
import { out, withAccess } from '../common';
import type { GlobalArgs, PodimgCommand } from '../common';
import { readPasswordStdin } from '../registry-args';

/** podimg login <registry> -u USER (-p PASS | --password-stdin) */
export const loginCommand: PodimgCommand = {
  register(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
    return y.command(
      'login <registry>',
      'check credentials against a registry and store them in the credentials file',
      (y) =>
        y
          .positional('registry', { type: 'string', demandOption: true })
          .option('username', { alias: 'u', type: 'string', demandOption: true, describe: 'user name' })
          .option('password', { alias: 'p', type: 'string', describe: 'password (prefer --password-stdin: arguments show in ps)' })
          .option('password-stdin', { type: 'boolean', default: false, describe: 'read the password from stdin' }),
      async (a) => {
        if ((a.password !== undefined) === a['password-stdin']) throw invalidField('password', 'give exactly one of -p/--password and --password-stdin');
        const password = a['password-stdin'] ? await readPasswordStdin() : (a.password ?? '');
        const { login } = require('../../auth/login') as typeof import('../../auth/login');
        const r = await withAccess(a as GlobalArgs, (access) => login(access, a.registry, a.username, password));
        if (a.output === 'json') out(`${JSON.stringify({ registry: r.registry, authFile: r.file }, null, 2)}\n`);
        else out(`Login Succeeded (${r.registry}, credentials in ${r.file})\n`);
      },
    );
  },
};
