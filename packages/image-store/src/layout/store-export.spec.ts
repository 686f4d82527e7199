import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isInvalidArgument } from '@podkit/errdefs';
import { ImageStore } from '../images/store';
import { FakeRegistry } from '../test-support/fake-registry';
import { openLayout } from './import';
import { defaultExportFormat, exportStoredImage } from './store-export';

describe('exportStoredImage', () => {
  let dir: string;
  let reg: FakeRegistry;
  let store: ImageStore;
  let name: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-storeexport-'));
    reg = new FakeRegistry();
    await reg.start();
    reg.addImage('lib/app', 'v1', [[{ name: 'etc/', type: 'dir' }, { name: 'etc/a', data: 'a' }]]);
    store = await ImageStore.open(path.join(dir, 'store'));
    name = (await store.pull(`${reg.host}/lib/app:v1`, { unpack: false })).name;
  });
  afterAll(async () => {
    await store.close();
    await reg.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('picks the format from the path by default', () => {
    expect(defaultExportFormat('/x/img.tar')).toBe('oci-archive');
    expect(defaultExportFormat('/x/img')).toBe('oci-dir');
  });

  it.each(['oci-dir', 'oci-archive', 'docker-archive'] as const)('writes %s with the image name', async (format) => {
    const out = path.join(dir, `out-${format}`);
    const rec = await store.get(name);
    const r = await exportStoredImage(store, name, out, format);
    expect(r).toEqual({ name, digest: rec.manifest.digest, format });
    const { format: got, source } = await openLayout(out);
    expect(got).toBe(format);
    expect(source.images.map((i) => i.name)).toEqual([format === 'docker-archive' ? `${reg.host}/lib/app:v1` : name]);
    await source.close();
  });

  it('refuses an unknown format', async () => {
    expect(isInvalidArgument(await exportStoredImage(store, name, path.join(dir, 'x'), 'zip' as never).catch((e: unknown) => e))).toBe(true);
  });
});
