/**
 * @podkit/cri-api — the Kubernetes Container Runtime Interface, `runtime.v1`.
 *
 * This first version carries the protocol's fixed names (package, services, socket defaults) shared by
 * podkitd and podctl; the `.proto` and the typed client/server stubs arrive with the CRI server.
 */

/** The protobuf package of CRI v1. */
export const CRI_PACKAGE = 'runtime.v1';

/** Fully qualified gRPC service names. */
export const RUNTIME_SERVICE = `${CRI_PACKAGE}.RuntimeService`;
export const IMAGE_SERVICE = `${CRI_PACKAGE}.ImageService`;

/** The CRI API version string a runtime reports from `Version` (as containerd and CRI-O do). */
export const CRI_API_VERSION = 'v1';

/** podkitd's default socket, and the form kubelet and crictl expect for a runtime endpoint. */
export const DEFAULT_SOCKET_PATH = '/run/podkit/podkitd.sock';

/** Turns a socket path or endpoint (`unix:///run/x.sock`, `/run/x.sock`) into a gRPC target and a path. */
export function parseEndpoint(endpoint: string): { target: string; path: string } {
  if (typeof endpoint !== 'string' || endpoint.length === 0) {
    throw new TypeError('endpoint: must be a non-empty unix socket path or unix:// URL');
  }
  let p = endpoint;
  if (p.startsWith('unix://')) p = p.slice('unix://'.length);
  else if (p.includes('://')) throw new TypeError(`endpoint: unsupported scheme in "${endpoint}" (only unix:// sockets)`);
  if (!p.startsWith('/')) throw new TypeError(`endpoint: "${endpoint}" must be an absolute socket path`);
  return { target: `unix://${p}`, path: p };
}
