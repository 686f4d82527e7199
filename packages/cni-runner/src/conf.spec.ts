import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isInvalidArgument, isNotFound } from '@podkit/errdefs';
import { findNetwork, loadConfDir, parseConf, parseConfList, validateIfName } from './conf';

describe('network configuration loading', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-cniconf-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, doc: unknown): void => fs.writeFileSync(path.join(dir, name), typeof doc === 'string' ? doc : JSON.stringify(doc));

  it('loads .conflist, .conf and .json files in lexical order and reports bad files with the reason', () => {
    write('10-b.conflist', { cniVersion: '1.0.0', name: 'bnet', plugins: [{ type: 'bridge' }, { type: 'portmap', capabilities: { portMappings: true } }] });
    write('05-a.conf', { cniVersion: '0.4.0', name: 'anet', type: 'bridge', bridge: 'cni0' });
    write('20-c.json', { cniVersion: '0.3.1', name: 'cnet', type: 'ptp' });
    write('00-broken.conflist', '{ not json');
    write('01-noplugins.conflist', { cniVersion: '1.0.0', name: 'x', plugins: [] });
    write('02-badversion.conf', { cniVersion: '9.9.9', name: 'y', type: 'bridge' });
    write('30-dup.conflist', { cniVersion: '1.0.0', name: 'anet', plugins: [{ type: 'ptp' }] });
    write('README.md', 'ignored');
    fs.mkdirSync(path.join(dir, '40-dir.conf'));
    const loaded = loadConfDir(dir);
    expect(loaded.networks.map((n) => n.name)).toEqual(['anet', 'bnet', 'cnet']);
    expect(findNetwork(loaded, undefined, dir).name).toBe('anet');
    const a = loaded.networks[0]!;
    expect(a.plugins).toEqual([{ cniVersion: '0.4.0', name: 'anet', type: 'bridge', bridge: 'cni0' }]);
    expect(a.cniVersion).toBe('0.4.0');
    expect(loaded.skipped.map((s) => [path.basename(s.file), s.reason])).toEqual([
      ['00-broken.conflist', expect.stringMatching(/\/: is not valid JSON/)],
      ['01-noplugins.conflist', expect.stringMatching(/\/plugins: is required and must be a non-empty array/)],
      ['02-badversion.conf', expect.stringMatching(/\/cniVersion: "9\.9\.9" is not supported/)],
      ['30-dup.conflist', expect.stringMatching(/network "anet" is already defined by .*05-a\.conf/)],
      ['40-dir.conf', 'not a regular file'],
    ]);
  });

  it('finds a network by name, or says which files were skipped', () => {
    write('a.conflist', { cniVersion: '1.0.0', name: 'good', plugins: [{ type: 'bridge' }] });
    write('b.conflist', { cniVersion: '1.0.0', plugins: [{ type: 'bridge' }] });
    const loaded = loadConfDir(dir);
    expect(findNetwork(loaded, 'good', dir).name).toBe('good');
    let err: unknown;
    try {
      findNetwork(loaded, 'other', dir);
    } catch (e) {
      err = e;
    }
    expect(isNotFound(err)).toBe(true);
    expect((err as Error).message).toMatch(/network "other" not found in .*skipped: b\.conflist \(.*\/name: is required/);
    expect(loadConfDir(path.join(dir, 'missing'))).toEqual({ networks: [], skipped: [] });
  });

  it('validates every field of a list and names the paths', () => {
    let err: unknown;
    try {
      parseConfList(JSON.stringify({ name: 'bad name', cniVersion: 1, disableCheck: 'maybe', plugins: [{ type: '../x' }, 3, { type: 'ok', capabilities: { a: 1 } }] }));
    } catch (e) {
      err = e;
    }
    expect(isInvalidArgument(err)).toBe(true);
    const issues = (err as { details: { issues: Array<{ path: string }> } }).details.issues.map((i) => i.path);
    expect(issues).toEqual(['/name', '/cniVersion', '/disableCheck', '/plugins/0/type', '/plugins/1', '/plugins/2/capabilities']);
  });

  it('picks the newest supported version from cniVersions and accepts string booleans', () => {
    const l = parseConfList(JSON.stringify({ name: 'n', cniVersions: ['0.4.0', '1.1.0', '2.0.0'], cniVersion: '0.4.0', disableCheck: 'true', plugins: [{ type: 'x' }] }));
    expect(l.cniVersion).toBe('1.1.0');
    expect(l.disableCheck).toBe(true);
    expect(l.disableGC).toBe(false);
    expect(parseConf(JSON.stringify({ name: 'n', cniVersion: '1.0.0', plugins: [{ type: 'x' }] })).plugins).toEqual([{ type: 'x' }]);
  });

  it('validates interface names as the kernel does', () => {
    expect(validateIfName('ifName', 'eth0')).toBe('eth0');
    for (const bad of ['', '.', '..', 'a b', 'a:b', 'a/b', 'x'.repeat(16)]) expect(() => validateIfName('ifName', bad)).toThrow(/^ifName: /);
  });
});
