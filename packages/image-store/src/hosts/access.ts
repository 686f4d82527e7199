/**
 * Everything a registry request needs besides the URL, built once from the user's settings: the
 * per-registry endpoints and TLS (hosts config), and authorization (credentials file + token cache).
 * The registry client, push and copy share one RegistryAccess, so a token fetched for a pull is reused
 * by a push in the same process.
 */
import { Authorizer } from '../auth/authorizer';
import { AuthFile, defaultAuthFile } from '../auth/config-file';
import { RegistryHosts } from './config';

export interface RegistryAccessOptions {
  /** Credentials file (docker config.json format); default `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`. */
  authFile?: string;
  /** Hosts config file (see hosts/config.ts); default `/etc/podkit/registries.json` when it exists. */
  hostsConfig?: string;
  /** Registries (host:port) reached over plain HTTP. */
  insecureRegistries?: readonly string[];
  timeoutMs?: number;
  maxRedirections?: number;
  userAgent?: string;
}

export class RegistryAccess {
  private constructor(
    readonly hosts: RegistryHosts,
    readonly auth: Authorizer,
    readonly authFile: AuthFile,
  ) {}

  static async open(opts: RegistryAccessOptions = {}): Promise<RegistryAccess> {
    const hosts = await RegistryHosts.load(opts.hostsConfig, {
      ...(opts.insecureRegistries ? { insecureRegistries: opts.insecureRegistries } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.maxRedirections !== undefined ? { maxRedirections: opts.maxRedirections } : {}),
    });
    return RegistryAccess.withHosts(hosts, opts);
  }

  /** Access over given hosts settings (tests, or callers that built their own). */
  static withHosts(hosts: RegistryHosts, opts: Pick<RegistryAccessOptions, 'authFile' | 'userAgent' | 'timeoutMs'> = {}): RegistryAccess {
    const authFile = new AuthFile(opts.authFile ?? defaultAuthFile());
    const auth = new Authorizer({
      credentials: (host) => authFile.get(host),
      plainHttpAllowed: (host) => hosts.plainHttpAllowed(host),
      ...(opts.userAgent ? { userAgent: opts.userAgent } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
    return new RegistryAccess(hosts, auth, authFile);
  }

  async close(): Promise<void> {
    await this.hosts.close();
  }
}
