import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateSpec } from '@podkit/oci-spec';
import { buildBusyboxBundle, busyboxApplets, busyboxAvailable } from './busybox';

const maybe = busyboxAvailable() ? it : it.skip;

describe('busybox rootfs builder', () => {
  maybe('writes busybox, an applet link each, passwd/group and the mount points, and a valid config', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-rootfs-'));
    try {
      const spec = buildBusyboxBundle(dir, { args: ['true'], mutate: (s) => (s.hostname = 'bb') });
      const rootfs = path.join(dir, 'rootfs');
      expect(fs.statSync(path.join(rootfs, 'bin', 'busybox')).mode & 0o111).not.toBe(0);
      expect(busyboxApplets()).toContain('sh');
      for (const a of busyboxApplets()) expect(fs.readlinkSync(path.join(rootfs, 'bin', a))).toBe('busybox');
      expect(fs.readFileSync(path.join(rootfs, 'etc', 'passwd'), 'utf8')).toMatch(/^root:x:0:0:/);
      expect(fs.readFileSync(path.join(rootfs, 'etc', 'group'), 'utf8')).toMatch(/^root:x:0:/);
      for (const d of ['proc', 'sys', 'dev', 'tmp']) expect(fs.readdirSync(path.join(rootfs, d))).toEqual([]);
      const written = validateSpec(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')));
      expect(written).toEqual(spec);
      expect(written).toMatchObject({ hostname: 'bb', root: { path: 'rootfs', readonly: false }, process: { args: ['true'], terminal: false } });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
