export { snapshotterConformance } from './snapshotter-suite';
export type { ConformanceSnapshotter, TestApi } from './snapshotter-suite';
