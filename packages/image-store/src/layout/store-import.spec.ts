import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isInvalidArgument } from '@podkit/errdefs';
import { ImageStore } from '../images/store';
import { FakeRegistry } from '../test-support/fake-registry';
import { exportDockerArchive } from './docker-archive';
import { exportOciArchive, exportOciDir } from './oci';
import { importIntoStore } from './store-import';

describe('import into the image store', () => {
  let dir: string;
  let reg: FakeRegistry;
  let src: ImageStore;
  let name: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-storeimport-'));
    reg = new FakeRegistry();
    await reg.start();
    reg.addImage('lib/app', 'v1', [[{ name: 'etc/', type: 'dir' }, { name: 'etc/hello', data: 'hello\n' }], [{ name: 'bin/', type: 'dir' }, { name: 'bin/x', data: 'x', mode: 0o755 }]]);
    src = await ImageStore.open(path.join(dir, 'src'));
    name = `${reg.host}/lib/app:v1`;
    await src.pull(name);
  });
  afterAll(async () => {
    await src.close();
    await reg.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it.each(['oci-dir', 'oci-archive', 'docker-archive'] as const)('%s: exported, then imported with the same image id and layers unpacked', async (format) => {
    const rec = await src.get(name);
    const out = path.join(dir, `export-${format}`);
    if (format === 'oci-dir') await exportOciDir(src.content, [{ name: rec.name, root: rec.manifest }], out);
    else if (format === 'oci-archive') await exportOciArchive(src.content, [{ name: rec.name, root: rec.manifest }], out);
    else await exportDockerArchive(src.content, [{ name: rec.name, manifest: rec.manifest }], out);
    const dst = await ImageStore.open(path.join(dir, `dst-${format}`));
    try {
      const r = await importIntoStore(dst, out);
      expect(r.format).toBe(format);
      expect(r.records.map((x) => x.name)).toEqual([rec.name]);
      expect(r.records[0]?.id).toBe(rec.id);
      expect(r.records[0]?.diffIds).toEqual(rec.diffIds);
      if (format !== 'docker-archive') expect(r.records[0]?.manifest.digest).toBe(rec.manifest.digest);
      const renamed = await importIntoStore(dst, out, 'local/renamed:v2');
      expect(renamed.records[0]?.name).toBe('docker.io/local/renamed:v2');
      expect((await dst.list()).map((x) => x.name).sort()).toEqual(['docker.io/local/renamed:v2', rec.name].sort());
    } finally {
      await dst.close();
    }
  });

  it('asks for a name when the archive has only a tag', async () => {
    const rec = await src.get(name);
    const out = path.join(dir, 'tag-only');
    await exportOciDir(src.content, [{ tag: 'v1', root: rec.manifest }], out);
    const dst = await ImageStore.open(path.join(dir, 'dst-tag'));
    try {
      const err = await importIntoStore(dst, out).catch((e: unknown) => e);
      expect(isInvalidArgument(err)).toBe(true);
      expect((err as Error).message).toMatch(/only the tag "v1"; give a name/);
    } finally {
      await dst.close();
    }
  });
});
