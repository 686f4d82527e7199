import type { Argv } from 'yargs';
import { out, table, withStore } from '../common';
import type { GlobalArgs, PodimgCommand } from '../common';

/** podimg df: space used by content and by snapshots. */
export const dfCommand: PodimgCommand = {
  register(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
    return y.command(
      'df',
      'space used by content blobs and snapshots',
      (c) => c,
      async (a) => {
        const r = await withStore(a as GlobalArgs, (st) => st.df());
        if (a.output === 'json') {
          out(`${JSON.stringify(r, null, 2)}\n`);
          return;
        }
        const { human } = require('../progress') as typeof import('../progress');
        out(
          table([
            ['TYPE', 'COUNT', 'ACTIVE', 'SIZE'],
            ['content', String(r.content.blobs), '', human(r.content.bytes)],
            ['snapshots', String(r.snapshots.count), String(r.snapshots.active), human(r.snapshots.bytes)],
          ]),
        );
      },
    );
  },
};
