import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { isPermissionDenied } from '@podkit/errdefs';
import { Descriptor, MediaType, digestOf, parseReference } from '@podkit/oci-spec';
import { Authorizer } from '../auth/authorizer';
import { ContentStore } from '../content/store';
import { RegistryHosts } from '../hosts/config';
import { RegistryClient } from '../registry/client';
import { FakeRegistry } from '../test-support/fake-registry';
import { PushRegistry } from '../test-support/push-registry';
import { BearerGate, TokenServer } from '../test-support/token-server';
import { buildTar } from '../tar/writer';
import { PushContext, pushImage } from './push';

const PASSWORD = 'push-Secret-42';

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

describe('push', () => {
  let dir: string;
  let content: ContentStore;
  let fake: FakeRegistry;
  let pushReg: PushRegistry;
  let tokens: TokenServer;
  let gate: BearerGate;
  let hosts: RegistryHosts;
  let manifest: Descriptor;
  let blobs: Descriptor[];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-push-'));
    content = await ContentStore.open(path.join(dir, 'content'));
    fake = new FakeRegistry();
    await fake.start();
    pushReg = new PushRegistry(fake);
    await pushReg.start();
    tokens = new TokenServer({ users: { alice: PASSWORD }, allow: (_u, repo, action) => action === 'pull' || !repo.startsWith('readonly/') });
    await tokens.start();
    gate = new BearerGate(tokens, `http://${pushReg.host}`);
    await gate.start();
    hosts = RegistryHosts.empty();
    // An image: a 300 KiB layer (chunked upload with 64 KiB chunks), a small one, a config.
    const big = buildTar([{ name: 'big.bin', data: crypto.randomBytes(300 * 1024) }]);
    const small = buildTar([{ name: 'etc/hello', data: 'hello\n' }]);
    const layers = [zlib.gzipSync(big), zlib.gzipSync(small)];
    const layerDescs: Descriptor[] = [];
    for (const l of layers) layerDescs.push({ mediaType: MediaType.LayerGzip, digest: await content.putBlob(l), size: l.length });
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digestOf(big), digestOf(small)] }, config: { Cmd: ['/bin/sh'] } }));
    const configDesc: Descriptor = { mediaType: MediaType.ImageConfig, digest: await content.putBlob(config), size: config.length };
    const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ImageManifest, config: configDesc, layers: layerDescs }));
    manifest = { mediaType: MediaType.ImageManifest, digest: await content.putBlob(m), size: m.length };
    blobs = [configDesc, ...layerDescs];
  });

  afterAll(async () => {
    await hosts.close();
    await gate.stop();
    await tokens.stop();
    await pushReg.stop();
    await fake.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function ctx(password = PASSWORD): PushContext {
    return { hosts, content, auth: new Authorizer({ credentials: async () => ({ username: 'alice', password }) }) };
  }

  it('uploads every blob (chunked above the chunk size), then the manifest; the image pulls back identical', async () => {
    const r = await pushImage(ctx(), parseReference(`${gate.host}/team/app:v1`), manifest, { chunkSize: 64 * 1024 });
    expect(r.digest).toBe(manifest.digest);
    expect(new Set(r.pushed)).toEqual(new Set(blobs.map((b) => b.digest)));
    expect(r.skipped).toEqual([]);
    // Chunks: contiguous Content-Ranges of 64 KiB for the big layer.
    const patches = pushReg.log.filter((l) => l.method === 'PATCH');
    expect(patches.length).toBeGreaterThanOrEqual(5);
    expect(patches[0]?.contentRange).toBe(`0-${64 * 1024 - 1}`);
    expect(patches[1]?.contentRange).toBe(`${64 * 1024}-${128 * 1024 - 1}`);
    // Pull it back (anonymously, straight from the backing registry) and compare.
    const client = new RegistryClient();
    try {
      const got = await client.resolve(parseReference(`${fake.host}/team/app:v1`));
      expect(got.descriptor.digest).toBe(manifest.digest);
      for (const b of blobs) expect((await collect(client.blob(parseReference(`${fake.host}/team/app`), b))).equals(await content.readBlob(b.digest, 1 << 30))).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('skips blobs the repository has (HEAD) on a second push', async () => {
    const before = pushReg.log.filter((l) => l.method === 'PATCH' || l.method === 'POST').length;
    const r = await pushImage(ctx(), parseReference(`${gate.host}/team/app:v2`), manifest);
    expect(new Set(r.skipped)).toEqual(new Set(blobs.map((b) => b.digest)));
    expect(r.pushed).toEqual([]);
    expect(pushReg.log.filter((l) => l.method === 'PATCH' || l.method === 'POST').length).toBe(before);
    expect(fake.manifests.get('team/app:v2')).toBeDefined();
  });

  it('mounts blobs across repositories when told where they are', async () => {
    const r = await pushImage(ctx(), parseReference(`${gate.host}/team/copy:v1`), manifest, { mountFrom: ['team/app'] });
    expect(new Set(r.mounted)).toEqual(new Set(blobs.map((b) => b.digest)));
    expect(r.pushed).toEqual([]);
    expect(pushReg.log.some((l) => l.method === 'POST' && l.path.includes('mount=') && l.path.includes('from=team%2Fapp'))).toBe(true);
  });

  it('falls back to a normal upload when the mount source lacks the blob', async () => {
    const r = await pushImage(ctx(), parseReference(`${gate.host}/team/third:v1`), manifest, { mountFrom: ['team/empty'] });
    expect(new Set(r.pushed)).toEqual(new Set(blobs.map((b) => b.digest)));
  });

  it('refuses clearly without push permission or with a wrong password', async () => {
    const ro = await pushImage(ctx(), parseReference(`${gate.host}/readonly/app:v1`), manifest).catch((e: unknown) => e);
    expect(isPermissionDenied(ro)).toBe(true);
    const wrong = await pushImage(ctx('wrong-Pass'), parseReference(`${gate.host}/team/app:v3`), manifest).catch((e: unknown) => e);
    expect(isPermissionDenied(wrong)).toBe(true);
    expect((wrong as Error).message).not.toContain('wrong-Pass');
    expect(fake.manifests.get('team/app:v3')).toBeUndefined();
  });
});
