/**
 * @podkit/cni-runner: network namespaces and a CNI plugin runner modelled on libcni (configuration
 * loading, ADD/DEL/CHECK/VERSION/STATUS/GC, capability arguments, the result cache), used by `podnet`.
 */
export { CniRunner, DEFAULT_RUN_DIR } from './runner';
export type { CniRunnerOptions, PluginVersionInfo, GcOutcome, StatusOutcome } from './runner';
export { NetnsStore, runInNetns, validateNetnsName } from './netns';
export type { NamedNetns } from './netns';
export {
  loadConfDir,
  findNetwork,
  parseConf,
  parseConfList,
  parseConfFile,
  validateContainerId,
  validateIfName,
  validateNetworkName,
  DEFAULT_CONF_DIR,
  CONF_EXTENSIONS,
} from './conf';
export type { LoadedConfs, SkippedConf } from './conf';
export { ResultCache, CACHE_KIND } from './cache';
export type { CacheEntry } from './cache';
export { parseResult, convertResult } from './result';
export { parseCniError, cniError, CNI_ERROR_CODES } from './errors';
export type { CniErrorInfo } from './errors';
export { DEFAULT_BIN_DIRS, DEFAULT_TIMEOUT_MS, findPlugin, buildEnv } from './exec';
export type { CniCommand } from './exec';
export { SUPPORTED_VERSIONS, LATEST_VERSION, compareVersions, versionAtLeast } from './version';
export type { CniVersion } from './version';
export type * from './types';
