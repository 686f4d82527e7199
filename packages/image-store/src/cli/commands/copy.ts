import type { Argv } from 'yargs';
import { out, withAccess } from '../common';
import type { GlobalArgs, PodimgCommand } from '../common';

/** podimg copy <src> <dst> */
export const copyCommand: PodimgCommand = {
  register(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
    return y.command(
      'copy <src> <dst>',
      'copy an image between registries, layouts and archives (docker://REF, oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF])',
      (y) =>
        y
          .positional('src', { type: 'string', demandOption: true })
          .positional('dst', { type: 'string', demandOption: true })
          .option('platform', { type: 'string', describe: 'os/arch[/variant] for a docker-archive destination (default: this machine)' }),
      async (a) => {
        const { copyImage, parseLocation } = require('../../layout/copy') as typeof import('../../layout/copy');
        const { RegistryClient } = require('../../registry/client') as typeof import('../../registry/client');
        const { parsePlatform } = require('@podkit/oci-spec') as typeof import('@podkit/oci-spec');
        const src = parseLocation(a.src, 'src');
        const dst = parseLocation(a.dst, 'dst');
        const r = await withAccess(a as GlobalArgs, async (access) => {
          const client = new RegistryClient({ access });
          try {
            return await copyImage(src, dst, { access, client, ...(a.platform ? { platform: parsePlatform(a.platform) } : {}) });
          } finally {
            await client.close();
          }
        });
        if (a.output === 'json') out(`${JSON.stringify({ ...r, src: a.src, dst: a.dst }, null, 2)}\n`);
        else out(`copied ${a.src} to ${a.dst} (${r.digest}, ${r.blobs} blobs)\n`);
      },
    );
  },
};
