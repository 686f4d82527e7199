import * as crypto from 'node:crypto';
import { isDataLoss, isNotFound, isUnavailable } from '@podkit/errdefs';
import { MediaType, digestOf, parseReference } from '@podkit/oci-spec';
import { FakeRegistry } from '../test-support/fake-registry';
import { MANIFEST_ACCEPT, RegistryClient } from './client';

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

describe('RegistryClient', () => {
  let reg: FakeRegistry;
  let client: RegistryClient;
  beforeEach(async () => {
    reg = new FakeRegistry();
    await reg.start();
    client = new RegistryClient({ backoffMs: 5, retries: 3 });
  });
  afterEach(async () => {
    await client.close();
    await reg.stop();
  });

  it('talks plain HTTP to 127.0.0.1 and HTTPS elsewhere unless marked insecure', () => {
    expect(client.endpoint('127.0.0.1:5000')).toBe('http://127.0.0.1:5000');
    expect(client.endpoint('localhost:5000')).toBe('http://localhost:5000');
    expect(client.endpoint('docker.io')).toBe('https://registry-1.docker.io');
    expect(client.endpoint('reg.example:5000')).toBe('https://reg.example:5000');
    expect(new RegistryClient({ insecureRegistries: ['reg.example:5000'] }).endpoint('reg.example:5000')).toBe('http://reg.example:5000');
  });

  it('resolves a tag with HEAD, then GET by digest with the Accept header for OCI and Docker types', async () => {
    const img = reg.addImage('lib/app', 'v1', [[{ name: 'f', data: 'x' }]]);
    const r = await client.resolve(parseReference(`${reg.host}/lib/app:v1`));
    expect(r.descriptor).toEqual({ mediaType: MediaType.ImageManifest, digest: img.desc.digest, size: img.desc.size });
    expect(reg.log.map((l) => `${l.method} ${l.url}`)).toEqual([`HEAD /v2/lib/app/manifests/v1`, `GET /v2/lib/app/manifests/${img.desc.digest}`]);
    expect(reg.log[1]!.accept).toBe(MANIFEST_ACCEPT);
    expect(MANIFEST_ACCEPT).toContain(MediaType.DockerManifestList);
  });

  it('falls back to GET when HEAD is refused', async () => {
    reg.faults.noHead = true;
    const img = reg.addImage('lib/app', 'v1', [[{ name: 'f', data: 'x' }]]);
    const r = await client.resolve(parseReference(`${reg.host}/lib/app:v1`));
    expect(r.descriptor.digest).toBe(img.desc.digest);
  });

  it('reports an unknown manifest as NotFound with the registry error', async () => {
    const err = await client.resolve(parseReference(`${reg.host}/lib/none:v1`)).catch((e: unknown) => e);
    expect(isNotFound(err)).toBe(true);
    const err2 = await client.fetchManifest(parseReference(`${reg.host}/lib/none:v1`), 'v1').catch((e: unknown) => e);
    expect((err2 as Error).message).toMatch(/HTTP 404: MANIFEST_UNKNOWN manifest unknown/);
  });

  it('refuses a manifest whose content does not match its digest', async () => {
    const img = reg.addImage('lib/app', 'v1', [[{ name: 'f', data: 'x' }]]);
    reg.manifests.set(`lib/app@${img.desc.digest}`, { body: Buffer.from('{"schemaVersion":2}'), mediaType: MediaType.ImageManifest });
    const err = await client.fetchManifest(parseReference(`${reg.host}/lib/app`), img.desc.digest).catch((e: unknown) => e);
    expect(isDataLoss(err)).toBe(true);
  });

  it('retries 503 answers with backoff', async () => {
    reg.addImage('lib/app', 'v1', [[{ name: 'f', data: 'x' }]]);
    reg.faults.fail503 = 2;
    await client.resolve(parseReference(`${reg.host}/lib/app:v1`));
    expect(reg.log.filter((l) => l.method === 'HEAD')).toHaveLength(3);
  });

  it('gives up after the retries with Unavailable', async () => {
    reg.faults.fail503 = 100;
    const err = await client.resolve(parseReference(`${reg.host}/lib/app:v1`)).catch((e: unknown) => e);
    expect(err).toBeDefined();
    // HEAD failed 4 times, then GET 4 times
    expect(isUnavailable(err)).toBe(true);
    expect((err as Error).message).toMatch(/HTTP 503: UNAVAILABLE try later/);
  });

  it('reports a refused connection as Unavailable', async () => {
    await reg.stop();
    const err = await client.resolve(parseReference(`${reg.host}/lib/app:v1`)).catch((e: unknown) => e);
    expect(isUnavailable(err)).toBe(true);
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
  });

  const big = crypto.randomBytes(1_000_000);
  it('resumes a broken blob download with Range', async () => {
    const d = reg.addBlob(big, MediaType.Layer);
    reg.faults.cutBlobAfter = 300_000;
    const got = await collect(client.blob(parseReference(`${reg.host}/lib/app`), d));
    expect(digestOf(got)).toBe(d.digest);
    const gets = reg.blobGets(d.digest);
    expect(gets).toHaveLength(2);
    expect(gets[0]!.range).toBeUndefined();
    expect(gets[1]!.range).toMatch(/^bytes=\d+-$/);
    expect(Number(/=(\d+)/.exec(gets[1]!.range!)![1])).toBeGreaterThan(0);
  });

  it('starts at an offset and copes with a server that ignores Range', async () => {
    const d = reg.addBlob(big, MediaType.Layer);
    reg.faults.ignoreRange = true;
    const got = await collect(client.blob(parseReference(`${reg.host}/lib/app`), d, 123_456));
    expect(got.equals(big.subarray(123_456))).toBe(true);
    expect(reg.blobGets(d.digest)[0]!.range).toBe('bytes=123456-');
  });

  it('follows redirects to blob storage', async () => {
    const d = reg.addBlob(big, MediaType.Layer);
    reg.faults.redirectBlobs = true;
    const got = await collect(client.blob(parseReference(`${reg.host}/lib/app`), d));
    expect(got.equals(big)).toBe(true);
    expect(reg.log.map((l) => l.url)).toEqual([`/v2/lib/app/blobs/${d.digest}`, `/storage/${d.digest}`]);
  });

  it('refuses a blob longer than its descriptor', async () => {
    const d = reg.addBlob(big, MediaType.Layer);
    const err = await collect(client.blob(parseReference(`${reg.host}/lib/app`), { ...d, size: 1000 })).catch((e: unknown) => e);
    expect(isDataLoss(err)).toBe(true);
  });
});
