import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateSpec } from '@podkit/oci-spec';
import { main } from './podrun';

async function podrun(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  // The CLI writes errors with fs.writeSync(2) (it never initialises process.stderr, see podrun.ts).
  const ws = jest.spyOn(require('node:fs') as typeof fs, 'writeSync').mockImplementation(((fd: number, s: string) => {
    if (fd === 2) stderr += s;
    return s.length;
  }) as never);
  process.exitCode = 0;
  try {
    await main(args);
    return { code: Number(process.exitCode ?? 0), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
    ws.mockRestore();
    process.exitCode = 0;
  }
}

describe('podrun CLI', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-cli-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('spec writes a valid default config.json, once', async () => {
    expect((await podrun(['spec', '--bundle', dir])).code).toBe(0);
    const doc = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(validateSpec(doc).process?.args).toEqual(['sh']);
    const again = await podrun(['spec', '-b', dir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists/);
  });

  it('state/list/delete of unknown containers fail like runc (exit 1, message)', async () => {
    const r = await podrun(['--root', dir, 'state', 'nope']);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toMatch(/container "nope" does not exist/);
    expect((await podrun(['--root', dir, 'delete', 'nope'])).code).toBe(1);
    expect(await podrun(['--root', dir, 'list', '--format', 'json'])).toMatchObject({ code: 0, stdout: 'null\n' });
    expect((await podrun(['--root', path.join(dir, 'missing'), 'list'])).stdout).toBe('ID   PID   STATUS   BUNDLE   CREATED   OWNER\n');
  });

  it('validates arguments: ids, signals, unknown commands and options', async () => {
    expect((await podrun(['--root', dir, 'state', '../x'])).stderr).toMatch(/invalid container id/);
    const bad = await podrun(['--root', dir, 'kill', 'x', 'SIGNOPE']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/unknown signal "SIGNOPE"/);
    expect((await podrun(['frobnicate'])).code).toBe(2);
    expect((await podrun(['state', 'x', '--bogus'])).code).toBe(2);
    expect((await podrun(['--systemd-cgroup', 'state', 'x'])).stderr).toMatch(/--systemd-cgroup/);
  });

  it('rejects a bad config before creating anything, naming the field', async () => {
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ociVersion: '1.0.0', root: { path: 'rootfs' }, process: { cwd: '/', args: [] } }));
    const r = await podrun(['--root', path.join(dir, 'state'), 'create', '--bundle', dir, 'c1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\/process\/args/);
    expect(fs.existsSync(path.join(dir, 'state', 'c1'))).toBe(false);
  });

  it('writes errors to --log in runc json format', async () => {
    const log = path.join(dir, 'log.json');
    await podrun(['--root', dir, '--log', log, '--log-format', 'json', 'start', 'nope']);
    const line = JSON.parse(fs.readFileSync(log, 'utf8').trim());
    expect(line).toMatchObject({ level: 'error', msg: expect.stringMatching(/does not exist/) });
    expect(typeof line.time).toBe('string');
  });
});

describe('exec command splitting', () => {
  it('puts -- before the command so its options stay its own', () => {
    const { splitExecCommand } = require('./podrun') as typeof import('./podrun');
    expect(splitExecCommand(['--root', '/r', 'exec', '-e', 'A=1', 'c1', 'sh', '-c', 'exit 5'])).toEqual(['--root', '/r', 'exec', '-e', 'A=1', 'c1', '--', 'sh', '-c', 'exit 5']);
    expect(splitExecCommand(['exec', '--detach', '--pid-file', 'p', 'c1', 'ls', '-l'])).toEqual(['exec', '--detach', '--pid-file', 'p', 'c1', '--', 'ls', '-l']);
    expect(splitExecCommand(['exec', 'c1', '--', 'ls'])).toEqual(['exec', 'c1', '--', 'ls']);
    expect(splitExecCommand(['--root', 'exec', 'state', 'x'])).toEqual(['--root', 'exec', 'state', 'x']);
    expect(splitExecCommand(['exec', '-p', 'proc.json', 'c1'])).toEqual(['exec', '-p', 'proc.json', 'c1']);
  });
});
