import type { Argv } from 'yargs';
import { out, shortId, withStore } from '../common';
import type { GlobalArgs, PodimgCommand } from '../common';

/** podimg tag <source> <target>: a second name for a stored image. */
export const tagCommand: PodimgCommand = {
  register(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
    return y.command(
      'tag <source> <target>',
      'give a stored image another name',
      (c) => c.positional('source', { type: 'string', demandOption: true }).positional('target', { type: 'string', demandOption: true }),
      async (a) => {
        const r = await withStore(a as GlobalArgs, (st) => st.tag(a.source, a.target));
        if (a.output === 'json') out(`${JSON.stringify(r, null, 2)}\n`);
        else out(`tagged ${shortId(r.id)} as ${r.name}\n`);
      },
    );
  },
};
