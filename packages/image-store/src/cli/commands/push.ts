import type { Argv } from 'yargs';
import { out, shortId, withStoreAccess } from '../common';
import type { GlobalArgs, PodimgCommand } from '../common';

/** podimg push <local-ref> [<remote-ref>] */
export const pushCommand: PodimgCommand = {
  register(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
    return y.command(
      'push <ref> [dest]',
      'push a stored image to a registry (to <dest> if given, else under its own name)',
      (y) =>
        y
          .positional('ref', { type: 'string', demandOption: true, describe: 'stored image (name or id)' })
          .positional('dest', { type: 'string', describe: 'registry reference to push to' })
          .option('chunk-mib', { type: 'number', default: 16, describe: 'upload chunk size (MiB)' }),
      async (a) => {
        const { pushStoredImage } = require('../../push/stored') as typeof import('../../push/stored');
        const table = a.output === 'table';
        const r = await withStoreAccess(a as GlobalArgs, (store, access) =>
          pushStoredImage(store, access, a.ref, a.dest, {
            chunkSize: Math.max(1, Math.floor(a['chunk-mib'] * 1024 * 1024)),
            ...(table
              ? {
                  onProgress: (e) => {
                    if (e.type === 'blob' && e.status !== 'pushing') process.stderr.write(`${shortId(e.digest)}: ${e.status === 'exists' ? 'already there' : e.status}\n`);
                  },
                }
              : {}),
          }),
        );
        if (a.output === 'json') out(`${JSON.stringify(r, null, 2)}\n`);
        else out(`pushed ${r.name} (digest ${r.digest}; ${r.pushed.length} uploaded, ${r.mounted.length} mounted, ${r.skipped.length} already there)\n`);
      },
    );
  },
};
