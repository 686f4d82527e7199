import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeRegistry } from '../test-support/fake-registry';
import { runPodimg } from '../test-support/cli-run';
import { PullProgress } from './progress';

const run = runPodimg;

describe('podimg', () => {
  let reg: FakeRegistry;
  let dir: string;
  beforeEach(async () => {
    reg = new FakeRegistry();
    await reg.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-podimg-'));
  });
  afterEach(async () => {
    await reg.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('pulls, lists, inspects, unpacks and removes an image', async () => {
    const img = reg.addImage('lib/app', 'v1', [[{ name: 'bin/', type: 'dir' }, { name: 'bin/sh', data: 'sh', mode: 0o755 }]], { config: { Cmd: ['/bin/sh', '-c', 'true'] } });
    const g = ['--root', path.join(dir, 'store'), '--insecure-registry', reg.host, '--insecure-registry', 'other:5000'];
    const ref = `${reg.host}/lib/app:v1`;
    const pull = await run([...g, 'pull', '--platform', 'linux/amd64', ref]);
    expect(pull.code).toBe(0);
    expect(pull.stdout).toBe(`pulled ${ref} (id ${img.configDesc.digest.slice(7, 19)}, 1 layers)\n`);
    // Not a terminal: one plain line per state change, no escape codes.
    expect(pull.stderr).toMatch(/: downloading \(\d+ B\)\n/);
    expect(pull.stderr.includes('\u001b[')).toBe(false);
    const ls = await run([...g, 'ls']);
    expect(ls.stdout).toMatch(new RegExp(`^NAME\\s+IMAGE ID\\s+SIZE\\s+PLATFORM\\s+CREATED\\n${ref.replace(/[.]/g, '\\.')}\\s+${img.configDesc.digest.slice(7, 19)}\\s+\\d+ B\\s+linux/amd64`));
    const lsJson = JSON.parse((await run([...g, '-o', 'json', 'ls'])).stdout);
    expect(lsJson[0].id).toBe(img.configDesc.digest);
    const insp = await run([...g, 'inspect', img.configDesc.digest.slice(7, 20)]);
    expect(insp.stdout).toMatch(/Cmd\s+\["\/bin\/sh","-c","true"\]/);
    const up = await run([...g, '-o', 'json', 'unpack', ref, path.join(dir, 'bundle')]);
    expect(JSON.parse(up.stdout)).toMatchObject({ layers: 1, entries: 2 });
    expect(fs.readFileSync(path.join(dir, 'bundle/rootfs/bin/sh'), 'utf8')).toBe('sh');
    const rm = await run([...g, 'rm', ref]);
    expect(rm.stdout).toBe(`removed ${ref} (3 blobs, 1 layer snapshots removed)\n`);
  });

  it('prints one clear line and exits with the error class status', async () => {
    const g = ['--root', path.join(dir, 'store')];
    const r = await run([...g, 'inspect', 'example.com/none:v1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe('podimg: image example.com/none:v1: not found\n');
    const bad = await run([...g, 'pull', 'lib/Bad']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.split('\n')).toHaveLength(2);
    expect(bad.stderr).toMatch(/^podimg: .*lowercase/);
    const none = await run([]);
    expect(none.stderr).toBe('podimg: a command is required\n');
  });
});

describe('PullProgress', () => {
  it('redraws bars in place on a terminal', () => {
    let out = '';
    const sink = { isTTY: true, columns: 100, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
    const p = new PullProgress(sink);
    p.event({ type: 'resolved', name: 'r', digest: `sha256:${'a'.repeat(64)}`, mediaType: 'm' });
    p.event({ type: 'layer', digest: `sha256:${'b'.repeat(64)}`, status: 'waiting', done: 0, total: 2048 });
    p.event({ type: 'layer', digest: `sha256:${'b'.repeat(64)}`, status: 'done', done: 2048, total: 2048 });
    p.event({ type: 'done', name: 'r', id: `sha256:${'c'.repeat(64)}` });
    expect(out).toContain('resolved r to sha256:aaaa');
    expect(out).toContain('\x1b[1A'); // cursor up over the previous bars
    expect(out).toMatch(/bbbbbbbbbbbb done\s+\[=+\] 2\.0 KiB\/2\.0 KiB/);
  });
});
