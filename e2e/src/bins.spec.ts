/**
 * The committed `bin` files are linked by npm at install time (before any build) and load the built
 * code: after `npm ci` + build, `node_modules/.bin/<cli>` runs.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const CLIS: Array<[cli: string, pkg: string]> = [
  ['podrun', 'runtime-core'],
  ['podimg', 'image-store'],
  ['podnet', 'cni-runner'],
  ['podkitd', 'cri-server'],
  ['podctl', 'ctl'],
];

describe('CLI bins', () => {
  it.each(CLIS)('%s is linked into node_modules/.bin and points at the committed bin', (cli, pkg) => {
    const link = path.join(root, 'node_modules', '.bin', cli);
    expect(fs.realpathSync(link)).toBe(path.join(root, 'packages', pkg, 'bin', cli));
    expect(fs.statSync(link).mode & 0o111).not.toBe(0);
  });

  it.each(CLIS)('%s starts and answers --version or --help', (cli) => {
    const link = path.join(root, 'node_modules', '.bin', cli);
    const r = spawnSync(link, ['--version'], { encoding: 'utf8', timeout: 20000 });
    expect(r.error).toBeUndefined();
    expect(r.stderr).not.toMatch(/not built yet: run `npm run build`/);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/\d+\.\d+\.\d+/);
  });
});
