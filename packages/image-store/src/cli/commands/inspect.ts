import type { Argv } from 'yargs';
import { withStore, out, table } from '../common';
import type { GlobalArgs, PodimgCommand } from '../common';

/** podimg inspect */
export const inspectCommand: PodimgCommand = {
  register(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
    return y.command(
        'inspect <ref>',
        'show an image record and its config',
        (y) => y.positional('ref', { type: 'string', demandOption: true }),
        async (a) => {
          const { record, config } = await withStore(a as GlobalArgs, async (s) => {
            const r = await s.get(a.ref);
            return { record: r, config: await s.config(r) };
          });
          if (a.output === 'json') {
            out(`${JSON.stringify({ ...record, imageConfig: config }, null, 2)}\n`);
            return;
          }
          const c = config.config ?? {};
          const rows = [
            ['Name', record.name],
            ['Id', record.id],
            ['Manifest', record.manifest.digest],
            ['Platform', `${record.platform.os}/${record.platform.architecture}`],
            ['Layers', String(record.layers.length)],
            ['Entrypoint', JSON.stringify(c.Entrypoint ?? null)],
            ['Cmd', JSON.stringify(c.Cmd ?? null)],
            ['Env', (c.Env ?? []).join(' ')],
            ['WorkingDir', c.WorkingDir ?? ''],
            ['User', c.User ?? ''],
          ];
          out(table(rows));
        },
    );
  },
};
