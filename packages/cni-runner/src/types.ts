/** The vocabulary of the runner: network configurations, runtime arguments, results, attachments. */

/** One plugin's configuration from a list (the JSON object as written, with at least `type`). */
export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

/** A network configuration list (a `.conflist`, or a single `.conf` wrapped as a one-plugin list). */
export interface NetworkConfigList {
  name: string;
  cniVersion: string;
  /** CHECK is skipped for this network (spec field `disableCheck`). */
  disableCheck: boolean;
  /** GC is skipped for this network (spec field `disableGC`, 1.1.0). */
  disableGC: boolean;
  plugins: PluginConf[];
  /** The document as loaded (for the cache and for DEL after the file is gone). */
  bytes: Buffer;
  /** Where it came from (a file path, or "<cache>"/"<inline>"). */
  source: string;
}

/** The per-attachment arguments of one call (libcni's RuntimeConf). */
export interface RuntimeConf {
  containerId: string;
  /** Path of the container's network namespace; empty on DEL/GC when the namespace is gone. */
  netns: string;
  ifName: string;
  /** CNI_ARGS pairs. */
  args?: Array<[string, string]>;
  /** Capability arguments, injected as `runtimeConfig` into plugins that declare the capability. */
  capabilityArgs?: Record<string, unknown>;
}

export interface CniInterface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}

export interface CniIpConfig {
  address: string;
  gateway?: string;
  interface?: number;
}

export interface CniRoute {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** A result in the newest form (1.1.0); older results are converted to it. */
export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: CniRoute[];
  dns?: CniDns;
}

/** A (container, interface) pair that GC must keep. */
export interface GcAttachment {
  containerID: string;
  ifname: string;
}

/** One entry of the result cache. */
export interface CachedAttachment {
  containerId: string;
  networkName: string;
  ifName: string;
  netns: string;
  cniArgs: Array<[string, string]>;
  capabilityArgs: Record<string, unknown>;
  /** The network configuration list used for ADD. */
  config: Buffer;
  /** The cached result as stored (in the network's cniVersion). */
  result: Record<string, unknown> | undefined;
  /** The file that holds it. */
  file: string;
}
