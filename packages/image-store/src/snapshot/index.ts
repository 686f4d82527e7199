export { OverlaySnapshotter, EXTRACT_LABEL, dirUsage } from './overlay';
export type { RepairReport } from './overlay';
export type { Snapshotter, SnapshotInfo, SnapshotKind, Usage, WalkFilter } from './types';
export type { MountDescriptor } from './mount-descriptor';
export { chainId, chainIds } from './chain';
