import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isInvalidArgument, isNotFound } from '@podkit/errdefs';
import { MediaType, parseReference } from '@podkit/oci-spec';
import { RegistryAccess } from '../hosts/access';
import { RegistryHosts } from '../hosts/config';
import { RegistryClient } from '../registry/client';
import { FakeRegistry } from '../test-support/fake-registry';
import { PushRegistry } from '../test-support/push-registry';
import { copyImage, parseLocation, selectImage } from './copy';
import { openLayout } from './import';

describe('parseLocation', () => {
  it('parses the four transports', () => {
    expect(parseLocation('docker://127.0.0.1:5000/a/b:v1')).toEqual({ kind: 'registry', ref: parseReference('127.0.0.1:5000/a/b:v1') });
    expect(parseLocation('oci:/tmp/x:v1')).toEqual({ kind: 'oci-dir', path: '/tmp/x', name: 'v1' });
    expect(parseLocation('oci:/tmp/x')).toEqual({ kind: 'oci-dir', path: '/tmp/x' });
    expect(parseLocation('oci-archive:rel/x.tar:latest')).toEqual({ kind: 'oci-archive', path: 'rel/x.tar', name: 'latest' });
    expect(parseLocation('docker-archive:/tmp/x.tar:busybox:latest')).toEqual({ kind: 'docker-archive', path: '/tmp/x.tar', name: 'busybox:latest' });
    expect(parseLocation('docker-archive:/tmp/x.tar')).toEqual({ kind: 'docker-archive', path: '/tmp/x.tar' });
    expect(() => parseLocation('ftp://x')).toThrow(/must start with docker:\/\//);
  });

  it('selects images by tag, full name or as the only one', () => {
    const root = (d: string) => ({ mediaType: MediaType.ImageManifest, digest: `sha256:${d.repeat(64)}`, size: 1 });
    const imgs = [
      { name: 'docker.io/library/a:v1', root: root('a') },
      { name: 'v2', root: root('b') },
    ];
    expect(selectImage(imgs, { kind: 'oci-dir', path: '/x', name: 'v2' }, 'x').root.digest).toBe(root('b').digest);
    expect(selectImage(imgs, { kind: 'oci-dir', path: '/x', name: 'a:v1' }, 'x').root.digest).toBe(root('a').digest);
    expect(selectImage(imgs, { kind: 'oci-dir', path: '/x', name: 'v1' }, 'x').root.digest).toBe(root('a').digest);
    const thrown = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (e) {
        return e;
      }
      return undefined;
    };
    expect(isInvalidArgument(thrown(() => selectImage(imgs, { kind: 'oci-dir', path: '/x' }, 'x')))).toBe(true);
    expect(isNotFound(thrown(() => selectImage(imgs, { kind: 'oci-dir', path: '/x', name: 'v9' }, 'x')))).toBe(true);
  });
});

describe('copyImage', () => {
  let dir: string;
  let fake: FakeRegistry;
  let push: PushRegistry;
  let client: RegistryClient;
  let access: RegistryAccess;
  let digest: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-copy-'));
    fake = new FakeRegistry();
    await fake.start();
    push = new PushRegistry(fake);
    await push.start();
    digest = fake.addImage('src/app', 'v1', [[{ name: 'a', data: 'aaa' }], [{ name: 'b', data: 'bbb' }]]).desc.digest;
    client = new RegistryClient();
    access = RegistryAccess.withHosts(RegistryHosts.empty(), { authFile: path.join(dir, 'auth.json') });
  });
  afterAll(async () => {
    await client.close();
    await access.close();
    await push.stop();
    await fake.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('registry → oci → oci-archive → docker-archive → registry, digests kept where the format allows', async () => {
    const opts = { client, access, tmpDir: dir };
    const oci = path.join(dir, 'oci');
    expect((await copyImage(parseLocation(`docker://${fake.host}/src/app:v1`), parseLocation(`oci:${oci}:v1`), opts)).digest).toBe(digest);
    const tar = path.join(dir, 'a.tar');
    await copyImage(parseLocation(`oci:${oci}:v1`), parseLocation(`oci-archive:${tar}:v1`), opts);
    const { source } = await openLayout(tar);
    expect(source.images[0]?.root.digest).toBe(digest);
    const docker = path.join(dir, 'd.tar');
    await copyImage(parseLocation(`oci-archive:${tar}:v1`), parseLocation(`docker-archive:${docker}:app:v1`), opts);
    const d = await openLayout(docker);
    expect(d.source.images.map((i) => i.name)).toEqual(['app:v1']);
    // To a registry (through the push path), then it resolves there.
    const r = await copyImage(parseLocation(`docker-archive:${docker}`), parseLocation(`docker://${push.host}/dst/app:v1`), opts);
    const back = await client.resolve(parseReference(`${fake.host}/dst/app:v1`));
    expect(back.descriptor.digest).toBe(r.digest);
    // Nothing left behind in the temp dir but what the test made.
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('podkit-copy-'))).toEqual([]);
  });

  it('refuses a source of the wrong kind', async () => {
    const oci = path.join(dir, 'oci');
    await expect(copyImage(parseLocation(`oci-archive:${oci}`), parseLocation(`oci:${path.join(dir, 'z')}`), { tmpDir: dir })).rejects.toThrow(/is an oci-dir, not an oci-archive/);
  });
});
