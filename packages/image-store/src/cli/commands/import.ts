import type { Argv } from 'yargs';
import { withStore, out, shortId } from '../common';
import type { GlobalArgs, PodimgCommand } from '../common';

/** podimg import <path> [<name>]: an OCI layout, oci-archive or docker-archive through the pull path. */
export const importCommand: PodimgCommand = {
  register(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
    return y.command(
      'import <path> [name]',
      'import the images of an OCI layout directory, an oci-archive or a docker-archive (detected)',
      (y) =>
        y
          .positional('path', { type: 'string', demandOption: true })
          .positional('name', { type: 'string', describe: 'name for the image (default: the name the archive carries)' })
          .option('platform', { type: 'string', describe: 'os/arch[/variant] from a multi-platform index (default: this machine)' }),
      async (a) => {
        const { importIntoStore } = require('../../layout/store-import') as typeof import('../../layout/store-import');
        const { parsePlatform } = require('@podkit/oci-spec') as typeof import('@podkit/oci-spec');
        const r = await withStore(a as GlobalArgs, (s) => importIntoStore(s, a.path, a.name, a.platform ? { platform: parsePlatform(a.platform) } : {}));
        if (a.output === 'json') out(`${JSON.stringify(r.records, null, 2)}\n`);
        else for (const rec of r.records) out(`imported ${rec.name} (id ${shortId(rec.id)}, ${rec.layers.length} layers) from ${r.format}\n`);
      },
    );
  },
};
