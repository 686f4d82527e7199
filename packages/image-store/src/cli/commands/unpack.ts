import type { Argv } from 'yargs';
import { withStore, out } from '../common';
import type { GlobalArgs, PodimgCommand } from '../common';

/** podimg unpack */
export const unpackCommand: PodimgCommand = {
  register(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
    return y.command(
        'unpack <ref> <dir>',
        'write <dir>/rootfs and <dir>/config.json from a stored image (no registry needed)',
        (y) => y.positional('ref', { type: 'string', demandOption: true }).positional('dir', { type: 'string', demandOption: true }),
        async (a) => {
          const { unpackBundle } = (require('../../unpack/bundle') as typeof import('../../unpack/bundle'));
          const r = await withStore(a as GlobalArgs, (s) => unpackBundle(s, a.ref, a.dir));
          if (a.output === 'json') out(`${JSON.stringify(r, null, 2)}\n`);
          else out(`unpacked ${a.ref} to ${r.dir} (${r.layers} layers, ${r.entries} entries)\n`);
        },
    );
  },
};
