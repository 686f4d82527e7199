import type { Argv } from 'yargs';
import { withStore, out } from '../common';
import type { GlobalArgs, PodimgCommand } from '../common';

/** podimg rm */
export const rmCommand: PodimgCommand = {
  register(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
    return y.command(
        'rm <refs..>',
        'remove images (and the blobs only they referenced)',
        (y) => y.positional('refs', { type: 'string', array: true, demandOption: true }),
        async (a) => {
          const results = await withStore(a as GlobalArgs, async (s) => {
            const res = [];
            for (const r of a.refs) res.push(await s.remove(r));
            return res;
          });
          if (a.output === 'json') out(`${JSON.stringify(results.map((r) => ({ name: r.removed.name, id: r.removed.id, blobs: r.blobs, layers: r.layers })), null, 2)}\n`);
          else for (const r of results) out(`removed ${r.removed.name} (${r.blobs.length} blobs, ${r.layers.length} layer snapshots removed)\n`);
        },
    );
  },
};
