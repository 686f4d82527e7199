import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isInvalidArgument } from '@podkit/errdefs';
import { RegistryHosts, validateHostsDoc } from './config';

describe('registry hosts configuration', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-hosts-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('without settings: https upstream, http for loopback and --insecure-registry, docker.io → registry-1', () => {
    const h = RegistryHosts.empty({ insecureRegistries: ['reg.lan:5000'] });
    expect(h.endpoints('docker.io', 'pull').map((e) => e.url)).toEqual(['https://registry-1.docker.io']);
    expect(h.endpoints('127.0.0.1:5000', 'pull').map((e) => e.url)).toEqual(['http://127.0.0.1:5000']);
    expect(h.endpoints('reg.lan:5000', 'push').map((e) => e.url)).toEqual(['http://reg.lan:5000']);
    expect(h.endpoints('quay.io', 'pull')[0]?.host).toBe('quay.io');
  });

  it('puts mirrors with the capability first, in order, then the upstream', async () => {
    const ca = path.join(dir, 'ca.pem');
    fs.writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n');
    const file = path.join(dir, 'registries.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        registries: {
          'docker.io': { mirrors: [{ url: 'http://127.0.0.1:5001/v2/' }, { url: 'https://m2.example/prefix', ca, capabilities: ['pull', 'resolve', 'push'] }] },
          'reg.example': { insecure: true },
          'tls.example': { ca: [ca], skipVerify: true },
        },
      }),
    );
    const h = await RegistryHosts.load(file);
    expect(h.endpoints('docker.io', 'pull').map((e) => [e.url, e.mirror])).toEqual([
      ['http://127.0.0.1:5001', true],
      ['https://m2.example/prefix', true],
      ['https://registry-1.docker.io', false],
    ]);
    expect(h.endpoints('docker.io', 'push').map((e) => e.url)).toEqual(['https://m2.example/prefix', 'https://registry-1.docker.io']);
    expect(h.endpoints('docker.io', 'pull')[1]?.tls.ca?.[0]).toContain('BEGIN CERTIFICATE');
    expect(h.endpoints('reg.example', 'pull').map((e) => e.url)).toEqual(['http://reg.example']);
    expect(h.endpoints('tls.example', 'pull')[0]?.tls.skipVerify).toBe(true);
    expect(h.plainHttpAllowed('reg.example')).toBe(true);
    expect(h.plainHttpAllowed('tls.example')).toBe(false);
    await h.close();
  });

  it('reports every problem with its path', () => {
    let err: unknown;
    try {
      validateHostsDoc({ registries: { 'bad host!': {}, 'r.example': { insecure: 'yes', cert: '/c', mirrors: [{ url: 'ftp://x' }, { capabilities: ['pull', 'fly'] }], colour: 1 } } });
    } catch (e) {
      err = e;
    }
    expect(isInvalidArgument(err)).toBe(true);
    const paths = ((err as { details?: { issues?: Array<{ path: string }> } }).details?.issues ?? []).map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'registries.bad host!',
        'registries.r.example.insecure',
        'registries.r.example.key',
        'registries.r.example.mirrors[0].url',
        'registries.r.example.mirrors[1].url',
        'registries.r.example.mirrors[1].capabilities',
        'registries.r.example.colour',
      ]),
    );
  });

  it('a missing default file means no settings; a named missing file or unreadable CA is an error', async () => {
    expect((await RegistryHosts.load(undefined)).endpoints('q.example', 'pull')).toHaveLength(1);
    await expect(RegistryHosts.load(path.join(dir, 'nope.json'))).rejects.toThrow(/nope\.json/);
    const file = path.join(dir, 'r.json');
    fs.writeFileSync(file, JSON.stringify({ registries: { 'r.example': { ca: path.join(dir, 'missing.pem') } } }));
    await expect(RegistryHosts.load(file)).rejects.toThrow(/registries\.r\.example\.ca\[0\]/);
  });
});
