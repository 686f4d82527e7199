import type { Argv } from 'yargs';
import { withStore, out, table, shortId, size } from '../common';
import type { GlobalArgs, PodimgCommand } from '../common';

/** podimg ls */
export const lsCommand: PodimgCommand = {
  register(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
    return y.command(
        'ls',
        'list images',
        (y) => y,
        async (a) => {
          const { human } = (require('../progress') as typeof import('../progress'));
          const recs = await withStore(a as GlobalArgs, (s) => s.list());
          if (a.output === 'json') {
            out(`${JSON.stringify(recs, null, 2)}\n`);
            return;
          }
          const rows = [['NAME', 'IMAGE ID', 'SIZE', 'PLATFORM', 'CREATED']];
          for (const r of recs) rows.push([r.name, shortId(r.id), human(size(r)), `${r.platform.os}/${r.platform.architecture}${r.platform.variant ? `/${r.platform.variant}` : ''}`, r.createdAt]);
          out(table(rows));
        },
    );
  },
};
