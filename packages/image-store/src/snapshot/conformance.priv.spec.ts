/** The snapshotter conformance suite (`@podkit/image-store/testing`) run against the overlay snapshotter. */
import { snapshotterConformance } from '../testing';
import { OverlaySnapshotter } from './overlay';

if (process.getuid?.() === 0) {
  snapshotterConformance({ describe, it, beforeEach, afterEach, expect }, 'overlay', (root) => OverlaySnapshotter.open(root));
} else {
  describe.skip('snapshotter conformance (needs root to mount overlayfs)', () => {
    it('skipped', () => undefined);
  });
}
