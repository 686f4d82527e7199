import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateFeatures, validateSpec } from '@podkit/oci-spec';
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

  it('answers features (a valid runtime-spec features document), checkpoint/restore and --systemd-cgroup clearly', async () => {
    const f = await podrun(['features']);
    expect(f.code).toBe(0);
    const doc = JSON.parse(f.stdout);
    expect(validateFeatures(doc).linux?.cgroup).toMatchObject({ v1: true, systemd: false });
    expect(doc.linux.namespaces).toContain('pid');
    expect(doc.hooks).toEqual(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
    const c = await podrun(['checkpoint', 'x']);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/checkpoint is not supported/);
    expect((await podrun(['restore', 'x'])).stderr).toMatch(/restore is not supported/);
    const log = path.join(dir, 'log.json');
    const s = await podrun(['--log', log, '--log-format', 'json', '--systemd-cgroup', 'create', 'x']);
    expect(s.code).toBe(1);
    expect(JSON.parse(fs.readFileSync(log, 'utf8').trim()).msg).toMatch(/systemd cgroup driver is not supported/);
  });

  it('checks console flags against the config (as runc) and --preserve-fds', async () => {
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ociVersion: '1.2.0', root: { path: 'rootfs' }, process: { cwd: '/', args: ['sh'] } }));
    expect((await podrun(['--root', path.join(dir, 's'), 'create', '--console-socket', '/x.sock', '-b', dir, 'c'])).stderr).toMatch(/--console-socket: needs a terminal/);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ociVersion: '1.2.0', root: { path: 'rootfs' }, process: { cwd: '/', args: ['sh'], terminal: true } }));
    expect((await podrun(['--root', path.join(dir, 's'), 'create', '-b', dir, 'c'])).stderr).toMatch(/\/process\/terminal: a terminal needs --console-socket/);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ociVersion: '1.2.0', root: { path: 'rootfs' }, process: { cwd: '/', args: ['sh'] } }));
    expect((await podrun(['--root', path.join(dir, 's'), 'create', '-b', dir, '--preserve-fds', '-1', 'c'])).stderr).toMatch(/--preserve-fds: must be an integer from 0/);
  });

  it('prints its version in runc\'s shape', async () => {
    const v = await podrun(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^podrun version \d+\.\d+\.\d+\ncommit: .+\nspec: 1\.2\.0\n$/);
  });

  it('prints help through yargs, exit 0', async () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const h = await podrun(['--help']);
      expect(h.code).toBe(0);
      expect(String(log.mock.calls[0]?.[0])).toMatch(/podrun events <id>/);
    } finally {
      log.mockRestore();
    }
  });
});

describe('update resources and durations', () => {
  const { updateResources, parseDuration, parseBytes } = require('./podrun') as typeof import('./podrun');
  it('merges --resources JSON (stdin) with the single-value flags', () => {
    const r = updateResources({ resources: '-', memory: '64m', 'cpu-quota': '50000', 'pids-limit': '20' }, () => '{"memory":{"reservation":1024},"cpu":{"shares":512}}');
    expect(r).toEqual({ memory: { reservation: 1024, limit: 64 * 1024 * 1024 }, cpu: { shares: 512, quota: 50000 }, pids: { limit: 20 } });
    expect(() => updateResources({ resources: '-' }, () => 'nope')).toThrow(/--resources: not valid JSON/);
    expect(() => updateResources({ memory: 'lots' }, () => '')).toThrow(/--memory/);
    // blkio is applied (or refused with its path) by the cgroup backend now, not by the flag parser.
    expect(updateResources({ resources: '-' }, () => '{"blockIO":{"weight":10}}')).toEqual({ blockIO: { weight: 10 } });
    // The document is checked against the schema: a wrong type is named with its path, never written.
    expect(() => updateResources({ resources: '-' }, () => '{"memory":{"limit":"1g"}}')).toThrow(/--resources: \/memory\/limit: /);
    expect(() => updateResources({ resources: '-' }, () => '{"cpu":{"idle":"yes"},"pids":{}}')).toThrow(/\/cpu\/idle: .*\/pids/);
  });
  it('parses Go durations and byte sizes', () => {
    expect(parseDuration('5s', 'i')).toBe(5000);
    expect(parseDuration('1m30s', 'i')).toBe(90_000);
    expect(parseDuration('250ms', 'i')).toBe(250);
    expect(() => parseDuration('5', '--interval')).toThrow(/--interval/);
    expect(parseBytes('1k', 'x')).toBe(1024);
    expect(parseBytes('-1', 'x')).toBe(-1);
  });
});
