import type { Argv } from 'yargs';
import { out, table, withStore } from '../common';
import type { GlobalArgs, PodimgCommand } from '../common';

/** podimg gc: mark and sweep over content and snapshots; reports what went and the bytes freed. */
export const gcCommand: PodimgCommand = {
  register(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
    return y.command(
      'gc',
      'remove blobs and snapshots nothing references (images, containers\' snapshots, pulls in progress)',
      (c) => c,
      async (a) => {
        const r = await withStore(a as GlobalArgs, (st) => st.gc());
        if (a.output === 'json') {
          out(`${JSON.stringify(r, null, 2)}\n`);
          return;
        }
        const { human } = require('../progress') as typeof import('../progress');
        for (const b of r.removedBlobs) out(`removed blob ${b.digest} (${human(b.size)})\n`);
        for (const s of r.removedSnapshots) out(`removed snapshot ${s.name} (${human(s.size)})\n`);
        out(table([['BLOBS', 'SNAPSHOTS', 'FREED'], [String(r.removedBlobs.length), String(r.removedSnapshots.length), human(r.bytesFreed)]]));
      },
    );
  },
};
