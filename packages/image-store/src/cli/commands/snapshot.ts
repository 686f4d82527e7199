import type { Argv } from 'yargs';
import { out, table, withStore } from '../common';
import type { GlobalArgs, PodimgCommand } from '../common';

function human(n: number): string {
  const { human: h } = require('../progress') as typeof import('../progress');
  return h(n);
}

/**
 * podimg snapshot <verb>: the snapshotter by hand, the tutorial's `lower`/`upper`/`work`/`merged`.
 *   prepare <key> <parent> | view <key> <parent>   (parent: a committed snapshot or an image reference)
 *   commit <name> <key> | mounts <key> | mount <key> <dir> | umount <dir> | rm <key> | ls | usage <key>
 */
export const snapshotCommand: PodimgCommand = {
  register(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
    return y.command('snapshot', 'manage snapshots (layers and containers\' writable layers)', (s) =>
      (s as Argv<GlobalArgs>)
        .command(
          'prepare <key> <parent>',
          'a writable snapshot on a committed snapshot or an image\'s top layer; prints its mounts',
          (c) => c.positional('key', { type: 'string', demandOption: true }).positional('parent', { type: 'string', demandOption: true }),
          async (a) => {
            const m = await withStore(a as GlobalArgs, (st) => st.prepareSnapshot(a.key, a.parent));
            printMounts(a.output, m);
          },
        )
        .command(
          'view <key> <parent>',
          'a read-only view of a committed snapshot or an image\'s top layer; prints its mounts',
          (c) => c.positional('key', { type: 'string', demandOption: true }).positional('parent', { type: 'string', demandOption: true }),
          async (a) => {
            const m = await withStore(a as GlobalArgs, (st) => st.viewSnapshot(a.key, a.parent));
            printMounts(a.output, m);
          },
        )
        .command(
          'commit <name> <key>',
          'commit an active snapshot as <name> (it can then be a parent)',
          (c) => c.positional('name', { type: 'string', demandOption: true }).positional('key', { type: 'string', demandOption: true }),
          async (a) => {
            const info = await withStore(a as GlobalArgs, (st) => st.snapshotter.commit(a.name, a.key));
            if (a.output === 'json') out(`${JSON.stringify(info, null, 2)}\n`);
            else out(`committed ${a.key} as ${info.name}\n`);
          },
        )
        .command(
          'mounts <key>',
          'print the mounts of an active snapshot or a view (-o json: the Mount descriptors)',
          (c) => c.positional('key', { type: 'string', demandOption: true }),
          async (a) => printMounts(a.output, await withStore(a as GlobalArgs, (st) => st.snapshotter.mounts(a.key))),
        )
        .command(
          'mount <key> <dir>',
          'mount an active snapshot or a view at <dir>',
          (c) => c.positional('key', { type: 'string', demandOption: true }).positional('dir', { type: 'string', demandOption: true }),
          async (a) => {
            const { mountAll } = require('@podkit/runtime-core/sys') as typeof import('@podkit/runtime-core/sys');
            const m = await withStore(a as GlobalArgs, (st) => st.snapshotter.mounts(a.key));
            await mountAll(m, a.dir);
            if (a.output !== 'json') out(`mounted ${a.key} at ${a.dir}\n`);
          },
        )
        .command(
          'umount <dir>',
          'unmount what `snapshot mount` mounted at <dir>',
          (c) => c.positional('dir', { type: 'string', demandOption: true }),
          async (a) => {
            const { unmount } = require('@podkit/runtime-core/sys') as typeof import('@podkit/runtime-core/sys');
            await unmount(a.dir);
            if (a.output !== 'json') out(`unmounted ${a.dir}\n`);
          },
        )
        .command(
          'rm <keys..>',
          'remove snapshots (refused while other snapshots build on one)',
          (c) => c.positional('keys', { type: 'string', array: true, demandOption: true }),
          async (a) => {
            await withStore(a as GlobalArgs, async (st) => {
              for (const k of a.keys) await st.snapshotter.remove(k);
            });
            if (a.output !== 'json') for (const k of a.keys) out(`removed ${k}\n`);
          },
        )
        .command(
          'ls',
          'list snapshots',
          (c) => c,
          async (a) => {
            const all = await withStore(a as GlobalArgs, (st) => st.snapshotter.walk());
            if (a.output === 'json') {
              out(`${JSON.stringify(all, null, 2)}\n`);
              return;
            }
            const rows = [['KEY', 'PARENT', 'KIND']];
            for (const i of all) rows.push([i.name, i.parent ?? '', i.kind]);
            out(table(rows));
          },
        )
        .command(
          'usage <key>',
          'bytes and inodes used by a snapshot itself (not its parents)',
          (c) => c.positional('key', { type: 'string', demandOption: true }),
          async (a) => {
            const u = await withStore(a as GlobalArgs, (st) => st.snapshotter.usage(a.key));
            if (a.output === 'json') out(`${JSON.stringify(u)}\n`);
            else out(table([['KEY', 'SIZE', 'INODES'], [a.key, human(u.size), String(u.inodes)]]));
          },
        )
        .demandCommand(1, 'a snapshot command is required'),
    );
  },
};

function printMounts(format: string, mounts: Array<{ type: string; source: string; target?: string; options: string[] }>): void {
  if (format === 'json') {
    out(`${JSON.stringify(mounts, null, 2)}\n`);
    return;
  }
  for (const m of mounts) out(`mount -t ${m.type} ${m.source}${m.target ? ` <target>/${m.target}` : ' <target>'} -o ${m.options.join(',')}\n`);
}
