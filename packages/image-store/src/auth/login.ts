/**
 * `podimg login` / `logout`: check credentials against the registry's `/v2/` endpoint (answering its
 * Basic or Bearer challenge, as `docker login` does) and store them in the credentials file; remove
 * them again. The password is never printed, logged or put in an error message.
 */
import { InvalidArgumentError, PermissionDeniedError, UnavailableError, invalidField, isPodkitError } from '@podkit/errdefs';
import { RegistryAccess } from '../hosts/access';
import { Authorizer } from './authorizer';
import { authorizedRequest } from './session';

/** `https://host:5000/v2/` or `host:5000` → `host:5000`; docker.io aliases → `docker.io`. */
export function registryHost(arg: string): string {
  const h = arg.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
  if (h.length === 0 || !/^[a-z0-9.-]+(:\d+)?$|^\[[0-9a-f:]+\](:\d+)?$/.test(h)) throw invalidField('registry', `"${arg}" is not a registry host[:port]`);
  if (h === 'index.docker.io' || h === 'registry-1.docker.io' || h === 'registry.hub.docker.com') return 'docker.io';
  return h;
}

/** Verifies `username`/`password` against the registry (its upstream endpoint). */
export async function verifyLogin(access: RegistryAccess, registry: string, username: string, password: string): Promise<void> {
  const ep = access.hosts.endpoints(registry, 'push').find((e) => !e.mirror) ?? access.hosts.endpoints(registry, 'pull')[0];
  if (!ep) throw new UnavailableError(`${registry}: no endpoint`);
  const auth = new Authorizer({ credentials: async () => ({ username, password }), plainHttpAllowed: (h) => access.hosts.plainHttpAllowed(h) });
  let res;
  try {
    res = await authorizedRequest(auth, { method: 'GET', url: `${ep.url}/v2/`, host: ep.host, scopes: [], dispatcher: access.hosts.dispatcher(ep), what: `login to ${registry}` });
  } catch (err) {
    if (isPodkitError(err)) throw err;
    const e = err as Error & { code?: string };
    throw new UnavailableError(`login to ${registry}: ${e.code ? `${e.code} ` : ''}${e.message}`, { cause: err, details: { errno: e.code } });
  }
  await res.body.dump().catch(() => undefined);
  if (res.statusCode === 200) return;
  if (res.statusCode === 403) throw new PermissionDeniedError(`login to ${registry}: HTTP 403: access denied for user "${username}"`, { details: { field: 'credentials', status: 403 } });
  if (res.statusCode === 404) throw new InvalidArgumentError(`login to ${registry}: ${ep.url}/v2/ is not a registry (HTTP 404)`, { details: { field: 'registry', status: 404 } });
  throw new UnavailableError(`login to ${registry}: HTTP ${res.statusCode}`, { details: { status: res.statusCode } });
}

/** Checks the credentials, then stores them. */
export async function login(access: RegistryAccess, registryArg: string, username: string, password: string, opts: { verify?: boolean } = {}): Promise<{ registry: string; file: string }> {
  const registry = registryHost(registryArg);
  if (username.length === 0) throw invalidField('username', 'must not be empty');
  if (password.length === 0) throw invalidField('password', 'must not be empty');
  if (opts.verify !== false) await verifyLogin(access, registry, username, password);
  await access.authFile.set(registry, { username, password });
  access.auth.reset();
  return { registry, file: access.authFile.file };
}

/** Removes stored credentials; false when there were none. */
export async function logout(access: RegistryAccess, registryArg: string): Promise<{ registry: string; file: string; removed: boolean }> {
  const registry = registryHost(registryArg);
  const removed = await access.authFile.remove(registry);
  access.auth.reset();
  return { registry, file: access.authFile.file, removed };
}
