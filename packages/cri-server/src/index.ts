/**
 * @podkit/cri-server — podkitd, the CRI runtime.v1 gRPC server: the only place where podkit's layers
 * (image-store, cni-runner, runtime-core) are composed. This skeleton fixes the package's place in
 * the dependency graph; the server itself comes with the CRI issues.
 */
import { CRI_API_VERSION, DEFAULT_SOCKET_PATH } from '@podkit/cri-api';

export interface DaemonConfig {
  /** Socket podkitd listens on. */
  socketPath: string;
  /** Persistent state: content, snapshots, metadata. */
  root: string;
  /** Runtime state: containers, sockets, pinned namespaces. */
  state: string;
}

export const DEFAULT_CONFIG: Readonly<DaemonConfig> = Object.freeze({
  socketPath: DEFAULT_SOCKET_PATH,
  root: '/var/lib/podkit',
  state: '/run/podkit',
});

export const RUNTIME_NAME = 'podkit';
export const RUNTIME_API_VERSION = CRI_API_VERSION;
