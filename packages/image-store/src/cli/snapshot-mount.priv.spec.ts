/** podimg snapshot mount / umount for real (root): the tutorial's `mount -t overlay`, by the CLI. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeRegistry } from '../test-support/fake-registry';
import { runPodimg } from '../test-support/cli-run';

const root = process.getuid?.() === 0;
const d = root ? describe : describe.skip;
if (!root) console.warn('snapshot-mount.priv.spec: skipped, needs root to mount');

const run = runPodimg;

const mounted = (dir: string): boolean => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir);

d('podimg snapshot mount/umount (root)', () => {
  let reg: FakeRegistry;
  let dir: string;
  beforeEach(async () => {
    reg = new FakeRegistry();
    await reg.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-podimg-mnt-'));
  });
  afterEach(async () => {
    await reg.stop();
    for (const t of ['a0', 'a1'].map((n) => path.join(dir, n))) if (fs.existsSync(t) && mounted(t)) await run(['snapshot', 'umount', t]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('mounts two containers on one image; a write in a0 shows only in a0 and its upper dir', async () => {
    reg.addImage('lib/app', 'v1', [[{ name: 'etc/', type: 'dir' }, { name: 'etc/os', data: 'busybox' }]]);
    const g = ['--root', path.join(dir, 'store'), '--insecure-registry', reg.host];
    const ref = `${reg.host}/lib/app:v1`;
    expect((await run([...g, 'pull', '--platform', 'linux/amd64', ref])).code).toBe(0);
    for (const c of ['a0', 'a1']) {
      expect((await run([...g, 'snapshot', 'prepare', c, ref])).code).toBe(0);
      fs.mkdirSync(path.join(dir, c));
      const r = await run([...g, 'snapshot', 'mount', c, path.join(dir, c)]);
      expect(r).toMatchObject({ code: 0, stdout: `mounted ${c} at ${path.join(dir, c)}\n` });
      expect(mounted(path.join(dir, c))).toBe(true);
    }
    fs.writeFileSync(path.join(dir, 'a0', 'hello'), 'from a0');
    expect(fs.readFileSync(path.join(dir, 'a1', 'etc', 'os'), 'utf8')).toBe('busybox');
    expect(fs.existsSync(path.join(dir, 'a1', 'hello'))).toBe(false);
    const upper = JSON.parse((await run([...g, '-o', 'json', 'snapshot', 'mounts', 'a0'])).stdout)[0].options.find((o: string) => o.startsWith('upperdir=')).slice(9);
    expect(fs.readFileSync(path.join(upper, 'hello'), 'utf8')).toBe('from a0');
    for (const c of ['a0', 'a1']) {
      expect((await run(['snapshot', 'umount', path.join(dir, c)])).code).toBe(0);
      expect(mounted(path.join(dir, c))).toBe(false);
    }
    const bad = await run([...g, 'snapshot', 'umount', path.join(dir, 'a0')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^podimg: unmount .*a0: umount2: EINVAL/);
  });
});
