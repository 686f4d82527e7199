/**
 * `@podkit/runtime-core/sys`: the low-level system layer that engines may use (mounts, device nodes,
 * xattrs, safe paths inside a root, namespace pinning, spawning helpers). It never imports the OCI
 * runtime library itself, so image-store and cni-runner can depend on it alone.
 */
export { loadNative, helperPath, nativeInfo, nativeAdd, nativeDirs, EXPECTED_ADDON_ABI } from './native';
export type { NativeInfo, CoreBinding } from './native';
export * from './mount';
export * from './safepath';
export * from './process';
export * from './fsnodes';
export * from './netns';
export * from './overlay';
export * from './layerpipe';
