import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MediaType } from '@podkit/oci-spec';
import { RegistryAccess } from '../hosts/access';
import { RegistryHosts } from '../hosts/config';
import { ImageStore } from '../images/store';
import { FakeRegistry } from '../test-support/fake-registry';
import { PushRegistry } from '../test-support/push-registry';
import { pushStoredImage } from './stored';

describe('pushStoredImage', () => {
  let dir: string;
  let fake: FakeRegistry;
  let reg: PushRegistry;
  let store: ImageStore;
  let access: RegistryAccess;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-pushstored-'));
    fake = new FakeRegistry();
    await fake.start();
    reg = new PushRegistry(fake);
    await reg.start();
    store = await ImageStore.open(path.join(dir, 'store'));
    access = RegistryAccess.withHosts(RegistryHosts.empty(), { authFile: path.join(dir, 'auth.json') });
  });
  afterAll(async () => {
    await access.close();
    await store.close();
    await reg.stop();
    await fake.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('pushes the pulled manifest of an index, mounting blobs from its own repository', async () => {
    // A two-platform index of which only amd64 gets pulled.
    const amd = fake.addImage('lib/app', undefined, [[{ name: 'a', data: 'amd64' }]]);
    const arm = fake.addImage('lib/app', undefined, [[{ name: 'a', data: 'arm64' }]], { architecture: 'arm64' });
    fake.addManifest(
      'lib/app',
      { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [{ ...amd.desc, platform: { os: 'linux', architecture: 'amd64' } }, { ...arm.desc, platform: { os: 'linux', architecture: 'arm64' } }] },
      MediaType.ImageIndex,
      'v1',
    );
    // The repository holds the blobs (as if they had been pushed there).
    for (const d of [amd.configDesc, ...amd.layerDescs]) reg.link('lib/app', d.digest);
    const rec = await store.pull(`${reg.host}/lib/app:v1`, { unpack: false, platform: { os: 'linux', architecture: 'amd64' } });
    const r = await pushStoredImage(store, access, rec.name, `${reg.host}/team/app:v2`);
    expect(r.name).toBe(`${reg.host}/team/app:v2`);
    expect(r.digest).toBe(amd.desc.digest); // the arm64 manifest is not in the store: the platform manifest goes
    expect(new Set(r.mounted)).toEqual(new Set([amd.configDesc.digest, ...amd.layerDescs.map((l) => l.digest)]));
    expect(fake.manifests.get('team/app:v2')?.body.equals(fake.manifests.get(`lib/app@${amd.desc.digest}`)?.body as Buffer)).toBe(true);
  });
});
