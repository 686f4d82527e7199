import * as fs from 'node:fs';
import { baseLayerEntries } from './busybox';

// A hard link's header mode, owner and mtime are applied to the shared inode by containerd (and others),
// so each link must carry its target's.
(fs.existsSync('/bin/busybox') ? describe : describe.skip)('busybox test image entries', () => {
  it('gives the hard links to bin/busybox busybox own mode and mtime', () => {
    const entries = baseLayerEntries();
    const busybox = entries.find((e) => e.name === 'bin/busybox');
    const links = entries.filter((e) => e.type === 'hardlink' && e.linkname === 'bin/busybox');
    expect(busybox?.mode).toBe(0o755);
    expect(links.length).toBeGreaterThan(10);
    for (const l of links) expect({ name: l.name, mode: l.mode, mtime: l.mtime }).toEqual({ name: l.name, mode: busybox?.mode, mtime: busybox?.mtime });
  });
});
