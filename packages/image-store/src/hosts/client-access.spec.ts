/**
 * The registry client with a RegistryAccess: mirrors tried in order before the upstream, pulls through
 * a Bearer gate with credentials from a docker config.json, and TLS with a private CA and a client
 * certificate (made with the openssl CLI for 127.0.0.1).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { isPermissionDenied, isUnavailable } from '@podkit/errdefs';
import { parseReference } from '@podkit/oci-spec';
import { AuthFile } from '../auth/config-file';
import { ImageStore } from '../images/store';
import { RegistryClient } from '../registry/client';
import { FakeRegistry } from '../test-support/fake-registry';
import { BearerGate, TokenServer } from '../test-support/token-server';
import { RegistryAccess } from './access';
import { RegistryHosts } from './config';

const PASSWORD = 'Mirror-Pass-8';

async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('registry client with hosts and credentials', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-access-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('mirrors', () => {
    const upstream = new FakeRegistry();
    const mirror = new FakeRegistry();
    beforeAll(async () => {
      await upstream.start();
      await mirror.start();
    });
    afterAll(async () => {
      await upstream.stop();
      await mirror.stop();
    });

    it('tries the mirrors in order (an unreachable one, one that lacks a blob), then the upstream', async () => {
      const img = upstream.addImage('lib/app', 'v1', [[{ name: 'a', data: 'aaa' }], [{ name: 'b', data: 'bbb' }]]);
      // The mirror has the manifest, the config and the first layer, not the second layer.
      mirror.manifests.set('lib/app:v1', upstream.manifests.get('lib/app:v1') as { body: Buffer; mediaType: string });
      mirror.manifests.set(`lib/app@${img.desc.digest}`, upstream.manifests.get(`lib/app@${img.desc.digest}`) as { body: Buffer; mediaType: string });
      for (const d of [img.configDesc, img.layerDescs[0]]) mirror.blobs.set(d?.digest ?? '', upstream.blobs.get(d?.digest ?? '') as Buffer);
      const dead = await closedPort();
      const hosts = await RegistryHosts.fromDoc({ registries: { [upstream.host]: { insecure: true, mirrors: [{ url: `http://127.0.0.1:${dead}` }, { url: `http://${mirror.host}` }] } } }, { timeoutMs: 5000 });
      const access = RegistryAccess.withHosts(hosts, { authFile: path.join(dir, 'none.json') });
      const store = await ImageStore.open(path.join(dir, 'store-mirror'), { access, retries: 0, backoffMs: 1 });
      try {
        const rec = await store.pull(`${upstream.host}/lib/app:v1`, { unpack: false });
        expect(rec.manifest.digest).toBe(img.desc.digest);
      } finally {
        await store.close();
        await access.close();
      }
      expect(mirror.log.filter((l) => l.url.includes('/manifests/')).length).toBeGreaterThan(0);
      expect(upstream.log.filter((l) => l.url.includes('/manifests/'))).toEqual([]);
      expect(mirror.blobGets(img.layerDescs[0]?.digest ?? '')).toHaveLength(1);
      expect(upstream.blobGets(img.layerDescs[1]?.digest ?? '')).toHaveLength(1);
      expect(upstream.blobGets(img.layerDescs[0]?.digest ?? '')).toHaveLength(0);
    });
  });

  describe('Bearer gate with credentials from a config.json', () => {
    const reg = new FakeRegistry();
    const tokens = new TokenServer({ users: { alice: PASSWORD } });
    let gate: BearerGate;
    beforeAll(async () => {
      await reg.start();
      await tokens.start();
      gate = new BearerGate(tokens, `http://${reg.host}`);
      await gate.start();
      reg.addImage('private/app', 'v1', [[{ name: 'etc/hostname', data: 'x\n' }]]);
    });
    afterAll(async () => {
      await gate.stop();
      await tokens.stop();
      await reg.stop();
    });

    it('pulls with the stored credentials, and refuses clearly without them', async () => {
      const authFile = path.join(dir, 'auth.json');
      await new AuthFile(authFile).set(gate.host, { username: 'alice', password: PASSWORD });
      const access = RegistryAccess.withHosts(RegistryHosts.empty(), { authFile });
      const store = await ImageStore.open(path.join(dir, 'store-gate'), { access });
      try {
        const rec = await store.pull(`${gate.host}/private/app:v1`, { unpack: false });
        expect(rec.layers).toHaveLength(1);
        expect(access.auth.tokenRequests).toBe(1);
      } finally {
        await store.close();
        await access.close();
      }
      const anon = new RegistryClient({ access: RegistryAccess.withHosts(RegistryHosts.empty(), { authFile: path.join(dir, 'nothing.json') }) });
      try {
        const err = await anon.resolve(parseReference(`${gate.host}/private/app:v1`)).catch((e: unknown) => e);
        expect(isPermissionDenied(err)).toBe(true);
        expect((err as Error).message).toMatch(/refused anonymous access/);
      } finally {
        await anon.access.close();
        await anon.close();
      }
    });
  });

  const haveOpenssl = spawnSync('openssl', ['version']).status === 0;
  (haveOpenssl ? describe : describe.skip)('TLS with a private CA and a client certificate', () => {
    const reg = new FakeRegistry();
    let server: https.Server;
    let host: string;
    let ca: string;
    let clientCert: string;
    let clientKey: string;

    beforeAll(async () => {
      await reg.start();
      reg.addImage('tls/app', 'v1', [[{ name: 'x', data: 'y' }]]);
      const ssl = (a: string[]): void => {
        const r = spawnSync('openssl', a, { cwd: dir, encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`openssl ${a.join(' ')}: ${r.stderr}`);
      };
      ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=podkit test CA']);
      fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
      for (const n of ['server', 'client']) {
        ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${n}.key`, '-out', `${n}.csr`, '-subj', `/CN=${n}`]);
        ssl(['x509', '-req', '-in', `${n}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${n}.pem`, '-days', '2', '-extfile', 'san.ext']);
      }
      ca = path.join(dir, 'ca.pem');
      clientCert = path.join(dir, 'client.pem');
      clientKey = path.join(dir, 'client.key');
      server = https.createServer(
        { key: fs.readFileSync(path.join(dir, 'server.key')), cert: fs.readFileSync(path.join(dir, 'server.pem')), ca: fs.readFileSync(ca), requestCert: true, rejectUnauthorized: true },
        (req, res) => {
          const up = http.request({ host: '127.0.0.1', port: reg.port, method: req.method, path: req.url, headers: req.headers }, (ures) => {
            res.writeHead(ures.statusCode ?? 502, ures.headers);
            ures.pipe(res);
          });
          req.pipe(up);
        },
      );
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await reg.stop();
    });

    async function resolveWith(doc: object): Promise<unknown> {
      const hosts = await RegistryHosts.fromDoc(doc, { timeoutMs: 5000 });
      const client = new RegistryClient({ access: RegistryAccess.withHosts(hosts, { authFile: path.join(dir, 'none.json') }), retries: 0 });
      try {
        return await client.resolve(parseReference(`${host}/tls/app:v1`)).catch((e: unknown) => e);
      } finally {
        await client.access.close();
      }
    }

    it('connects with the CA and the client certificate from the hosts config', async () => {
      const ok = await resolveWith({ registries: { [host]: { ca, cert: clientCert, key: clientKey } } });
      expect(ok).toMatchObject({ descriptor: { digest: expect.stringMatching(/^sha256:/) } });
    });

    it('fails without the CA, or without the client certificate', async () => {
      expect(isUnavailable(await resolveWith({ registries: { [host]: { cert: clientCert, key: clientKey } } }))).toBe(true);
      expect(isUnavailable(await resolveWith({ registries: { [host]: { ca } } }))).toBe(true);
    });
  });
});
