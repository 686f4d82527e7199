/** podimg snapshot / tag / df / gc, driven through the CLI's main() against an in-process registry. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeRegistry } from '../test-support/fake-registry';
import { runPodimg } from '../test-support/cli-run';

const run = runPodimg;

describe('podimg snapshot, tag, df, gc', () => {
  let reg: FakeRegistry;
  let dir: string;
  beforeEach(async () => {
    reg = new FakeRegistry();
    await reg.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-podimg-snap-'));
  });
  afterEach(async () => {
    await reg.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prepares on an image reference, commits, views, lists, measures, removes, tags and collects', async () => {
    reg.addImage('lib/app', 'v1', [[{ name: 'a', data: 'A' }], [{ name: 'b', data: 'B'.repeat(5000) }]]);
    const g = ['--root', path.join(dir, 'store'), '--insecure-registry', reg.host];
    const ref = `${reg.host}/lib/app:v1`;
    expect((await run([...g, 'pull', '--platform', 'linux/amd64', ref])).code).toBe(0);

    const prep = await run([...g, '-o', 'json', 'snapshot', 'prepare', 'ctr1', ref]);
    expect(prep.code).toBe(0);
    const mounts = JSON.parse(prep.stdout) as Array<{ type: string; options: string[] }>;
    expect(mounts).toHaveLength(1);
    expect(mounts[0]!.type).toBe('overlay');
    expect(mounts[0]!.options.find((o) => o.startsWith('lowerdir='))!.split(':')).toHaveLength(2);
    expect(JSON.parse((await run([...g, '-o', 'json', 'snapshot', 'mounts', 'ctr1'])).stdout)).toEqual(mounts);
    expect((await run([...g, 'snapshot', 'mounts', 'ctr1'])).stdout).toMatch(/^mount -t overlay overlay <target> -o index=off,workdir=/);

    expect((await run([...g, 'snapshot', 'commit', 'mine', 'ctr1'])).stdout).toBe('committed ctr1 as mine\n');
    const view = JSON.parse((await run([...g, '-o', 'json', 'snapshot', 'view', 'v1', 'mine'])).stdout);
    expect(view[0].type).toBe('overlay');
    expect(view[0].options).toHaveLength(1);

    const ls = await run([...g, 'snapshot', 'ls']);
    expect(ls.stdout.split('\n')[0]).toMatch(/^KEY\s+PARENT\s+KIND$/);
    expect(ls.stdout).toMatch(/\nmine\s+sha256:[0-9a-f]{64}\s+committed\n/);
    expect(ls.stdout).toMatch(/\nv1\s+mine\s+view\n/);
    const usage = JSON.parse((await run([...g, '-o', 'json', 'snapshot', 'usage', 'mine'])).stdout);
    expect(usage).toEqual({ size: expect.any(Number), inodes: 0 });

    const refused = await run([...g, 'snapshot', 'rm', 'mine']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^podimg: snapshot "mine" has 1 child snapshot\(s\) \(v1\): remove them first\n$/);
    expect((await run([...g, 'snapshot', 'rm', 'v1', 'mine'])).stdout).toBe('removed v1\nremoved mine\n');
    const missing = await run([...g, 'snapshot', 'prepare', 'x', 'no-such-thing']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/parent "no-such-thing" is neither a snapshot nor a pulled image/);

    expect((await run([...g, 'tag', ref, `${reg.host}/lib/app:other`])).stdout).toMatch(/^tagged [0-9a-f]{12} as /);
    const df = JSON.parse((await run([...g, '-o', 'json', 'df'])).stdout);
    expect(df.content.blobs).toBe(4);
    expect(df.snapshots).toMatchObject({ count: 2, active: 0 });

    // Remove both names: the first rm keeps what the other name still uses, the second frees it.
    expect((await run([...g, 'rm', ref])).code).toBe(0);
    expect((await run([...g, 'rm', `${reg.host}/lib/app:other`])).code).toBe(0);
    const gc = JSON.parse((await run([...g, '-o', 'json', 'gc'])).stdout);
    expect(gc).toMatchObject({ removedBlobs: [], removedSnapshots: [] });
    expect(JSON.parse((await run([...g, '-o', 'json', 'df'])).stdout)).toMatchObject({ content: { blobs: 0 }, snapshots: { count: 0 } });
  });
});
