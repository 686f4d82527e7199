import type { Argv } from 'yargs';
import { out, withAccess } from '../common';
import type { GlobalArgs, PodimgCommand } from '../common';

/** podimg logout <registry> */
export const logoutCommand: PodimgCommand = {
  register(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
    return y.command(
      'logout <registry>',
      'remove the stored credentials of a registry',
      (y) => y.positional('registry', { type: 'string', demandOption: true }),
      async (a) => {
        const { logout } = require('../../auth/login') as typeof import('../../auth/login');
        const r = await withAccess(a as GlobalArgs, (access) => logout(access, a.registry));
        if (a.output === 'json') out(`${JSON.stringify({ registry: r.registry, authFile: r.file, removed: r.removed }, null, 2)}\n`);
        else out(r.removed ? `Removed login credentials for ${r.registry} from ${r.file}\n` : `Not logged in to ${r.registry} (${r.file})\n`);
      },
    );
  },
};
