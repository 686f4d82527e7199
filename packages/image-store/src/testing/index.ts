export { snapshotterConformance } from './snapshotter-suite';
export type { ConformanceSnapshotter, TestApi } from './snapshotter-suite';
export { TestRegistry, registryAvailable, registryMissing, REGISTRY_BIN } from './registry';
export type { TestRegistryOptions } from './registry';
