import type { Argv } from 'yargs';
import { out } from '../common';
import type { GlobalArgs, PodimgCommand } from '../common';

/** podimg export <ref> <path> [--format oci-dir|oci-archive|docker-archive] */
export const exportCommand: PodimgCommand = {
  register(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
    return y.command(
      'export <ref> <path>',
      'write a stored image as an OCI layout directory, an oci-archive or a docker-archive',
      (y) =>
        y
          .positional('ref', { type: 'string', demandOption: true })
          .positional('path', { type: 'string', demandOption: true })
          .option('format', { choices: ['oci-dir', 'oci-archive', 'docker-archive'] as const, describe: 'default: oci-archive for a path ending in .tar, else oci-dir' }),
      async (a) => {
        const { withStore } = require('../common') as typeof import('../common');
        const { exportStoredImage, defaultExportFormat } = require('../../layout/store-export') as typeof import('../../layout/store-export');
        const r = await withStore(a as GlobalArgs, (s) => exportStoredImage(s, a.ref, a.path, a.format ?? defaultExportFormat(a.path)));
        if (a.output === 'json') out(`${JSON.stringify({ ...r, path: a.path }, null, 2)}\n`);
        else out(`exported ${r.name} (${r.digest}) to ${a.path} as ${r.format}\n`);
      },
    );
  },
};
