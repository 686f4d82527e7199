import type { Argv } from 'yargs';
import { parsePlatform } from '@podkit/oci-spec';
import { withStore, out, shortId } from '../common';
import type { GlobalArgs, PodimgCommand } from '../common';

/** podimg pull */
export const pullCommand: PodimgCommand = {
  register(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
    return y.command(
        'pull <ref>',
        'pull an image from a registry',
        (y) =>
          y
            .positional('ref', { type: 'string', demandOption: true })
            .option('platform', { type: 'string', describe: 'os/arch[/variant] (default: this machine)' })
            .option('unpack', { type: 'boolean', default: true, describe: 'extract layers while downloading (--no-unpack to skip)' })
            .option('max-concurrent-downloads', { type: 'number', default: 3, describe: 'layers downloaded at once' }),
        async (a) => {
          const { PullProgress } = (require('../progress') as typeof import('../progress'));
          await (require('../threads') as typeof import('../threads')).lowerHelperThreads();
          const progress = a.output === 'table' ? new PullProgress(process.stderr) : undefined;
          const rec = await withStore(a as GlobalArgs, (s) =>
            s.pull(a.ref, {
              ...(a.platform ? { platform: parsePlatform(a.platform) } : {}),
              unpack: a.unpack,
              concurrency: a['max-concurrent-downloads'],
              ...(progress ? { onProgress: (e) => progress.event(e) } : {}),
            }),
          );
          if (a.output === 'json') out(`${JSON.stringify(rec, null, 2)}\n`);
          else out(`pulled ${rec.name} (id ${shortId(rec.id)}, ${rec.layers.length} layers)\n`);
        },
    );
  },
};
