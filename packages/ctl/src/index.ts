/**
 * @podkit/ctl — podctl, a crictl-style CLI. It speaks CRI over gRPC only (through @podkit/cri-api) and
 * never loads podkit's native addon, so it can drive podkitd or containerd's CRI socket alike.
 */
import { DEFAULT_SOCKET_PATH, parseEndpoint } from '@podkit/cri-api';

/** Where podctl connects: `--runtime-endpoint`, then `$CONTAINER_RUNTIME_ENDPOINT`, then podkitd's socket. */
export function resolveEndpoint(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): { target: string; path: string } {
  return parseEndpoint(flag ?? env['CONTAINER_RUNTIME_ENDPOINT'] ?? DEFAULT_SOCKET_PATH);
}
