/**
 * Auth and push against Debian's docker-registry: htpasswd basic auth on the registry itself, and the
 * Bearer flow with the test token server's gate in front of it. Cross-checked with skopeo.
 */
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { isPermissionDenied } from '@podkit/errdefs';
import { Descriptor, MediaType, digestOf, parseReference } from '@podkit/oci-spec';
import { ContentStore } from '../content/store';
import { RegistryHosts } from '../hosts/config';
import { pushImage } from '../push/push';
import { BearerGate, TokenServer } from '../test-support/token-server';
import { buildTar } from '../tar/writer';
import { TestRegistry, registryMissing } from '../testing/registry';
import { Authorizer } from './authorizer';
import { Credentials } from './config-file';

const missing = registryMissing({ htpasswd: true }) ?? (spawnSync('skopeo', ['--version']).error ? 'skopeo is missing' : undefined);
const suite = missing ? describe.skip : describe;
if (missing) console.warn(`real-registry auth tests skipped: ${missing}`);
jest.setTimeout(60_000);

const PASSWORD = 'Htpasswd-Pass-31';

function skopeoDigest(ref: string, creds?: string): string {
  const r = spawnSync('skopeo', ['inspect', '--raw', '--tls-verify=false', ...(creds ? ['--creds', creds] : ['--no-creds']), `docker://${ref}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`skopeo inspect ${ref}: ${r.stderr}`);
  return digestOf(Buffer.from(r.stdout));
}

suite('auth against docker-registry', () => {
  let dir: string;
  let content: ContentStore;
  let manifest: Descriptor;
  const hosts = RegistryHosts.empty();

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-realauth-'));
    content = await ContentStore.open(path.join(dir, 'content'));
    const tar = buildTar([{ name: 'data.bin', data: crypto.randomBytes(200 * 1024) }]);
    const layer = zlib.gzipSync(tar);
    const l: Descriptor = { mediaType: MediaType.LayerGzip, digest: await content.putBlob(layer), size: layer.length };
    const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf(tar)] } }));
    const c: Descriptor = { mediaType: MediaType.ImageConfig, digest: await content.putBlob(cfg), size: cfg.length };
    const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ImageManifest, config: c, layers: [l] }));
    manifest = { mediaType: MediaType.ImageManifest, digest: await content.putBlob(m), size: m.length };
  });

  afterAll(async () => {
    await hosts.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const auth = (creds?: Credentials): Authorizer => new Authorizer({ credentials: async () => creds });

  describe('htpasswd basic auth', () => {
    const reg = new TestRegistry({ users: { alice: PASSWORD } });
    beforeAll(() => reg.start());
    afterAll(() => reg.stop());

    it('pushes with the right password (chunked), and skopeo reads the same digest', async () => {
      const r = await pushImage({ hosts, content, auth: auth({ username: 'alice', password: PASSWORD }) }, parseReference(`${reg.host}/team/app:v1`), manifest, { chunkSize: 64 * 1024 });
      expect(r.pushed).toHaveLength(2);
      expect(skopeoDigest(`${reg.host}/team/app:v1`, `alice:${PASSWORD}`)).toBe(manifest.digest);
      // A second repository: mounted from the first.
      const again = await pushImage({ hosts, content, auth: auth({ username: 'alice', password: PASSWORD }) }, parseReference(`${reg.host}/team/copy:v1`), manifest, { mountFrom: ['team/app'] });
      expect(again.mounted).toHaveLength(2);
    });

    it('a wrong password or none is a PermissionDenied that names the host and not the password', async () => {
      const wrong = await pushImage({ hosts, content, auth: auth({ username: 'alice', password: 'Wrong-Pass-9' }) }, parseReference(`${reg.host}/team/app:v2`), manifest).catch((e: unknown) => e);
      expect(isPermissionDenied(wrong)).toBe(true);
      expect((wrong as Error).message).toContain(`rejected the credentials for ${reg.host}`);
      expect((wrong as Error).message).not.toContain('Wrong-Pass-9');
      const none = await pushImage({ hosts, content, auth: auth(undefined) }, parseReference(`${reg.host}/team/app:v2`), manifest).catch((e: unknown) => e);
      expect((none as Error).message).toContain(`no credentials for ${reg.host}`);
    });
  });

  describe('Bearer tokens from the test token server in front of the registry', () => {
    const reg = new TestRegistry();
    const tokens = new TokenServer({ users: { alice: PASSWORD }, expiresIn: 120 });
    let gate: BearerGate;
    beforeAll(async () => {
      await reg.start();
      await tokens.start();
      gate = new BearerGate(tokens, `http://${reg.host}`);
      await gate.start();
    });
    afterAll(async () => {
      await gate.stop();
      await tokens.stop();
      await reg.stop();
    });

    it('pushes through the gate with a token per scope; the registry behind has the image', async () => {
      const a = auth({ username: 'alice', password: PASSWORD });
      const r = await pushImage({ hosts, content, auth: a }, parseReference(`${gate.host}/team/app:v1`), manifest, { chunkSize: 64 * 1024 });
      expect(r.pushed).toHaveLength(2);
      expect(a.tokenRequests).toBe(1);
      expect(tokens.log.filter((l) => l.status === 200).map((l) => l.scopes)).toEqual([['repository:team/app:pull,push']]);
      expect(skopeoDigest(`${reg.host}/team/app:v1`)).toBe(manifest.digest);
      // Mounting needs pull on the source too: one more token, for both scopes.
      const m = await pushImage({ hosts, content, auth: a }, parseReference(`${gate.host}/team/copy:v1`), manifest, { mountFrom: ['team/app'] });
      expect(m.mounted).toHaveLength(2);
      expect(a.tokenRequests).toBe(2);
    });

    it('a wrong password is refused by the token server, clearly', async () => {
      const err = await pushImage({ hosts, content, auth: auth({ username: 'alice', password: 'nope-Nope-5' }) }, parseReference(`${gate.host}/team/app:v3`), manifest).catch((e: unknown) => e);
      expect(isPermissionDenied(err)).toBe(true);
      expect((err as Error).message).toMatch(/token server refused user "alice"/);
      expect((err as Error).message).not.toContain('nope-Nope-5');
    });
  });
});
