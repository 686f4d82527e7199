/**
 * Registry authorization, after the distribution token spec and containerd's docker authorizer:
 *
 * - A request goes out with whatever this host is known to need: nothing at first, `Basic` once the
 *   host asked for it, or a Bearer token for the request's scopes (fetched ahead when the host's
 *   realm is known, so a second repository costs one token request, not a 401 round trip).
 * - A 401 hands its `WWW-Authenticate` to `challenge()`: Basic → the credentials; Bearer → a token
 *   from `realm` with `service` and the scopes (GET with Basic credentials, or the OAuth2 POST with
 *   `grant_type=refresh_token` when the credentials are an identity token). The caller retries once.
 * - Tokens are cached per host and scope set until `expires_in` (60 s when absent) minus a margin.
 *   Concurrent requests for the same scopes share one token request.
 *
 * Secrets (passwords, tokens) are never put in error messages; errors name the host and the user.
 */
import type { Dispatcher } from 'undici';
import { InvalidArgumentError, PermissionDeniedError, UnavailableError, isPodkitError } from '@podkit/errdefs';
import { httpRequest } from '../http/undici';
import { Challenge, parseChallenges } from './challenge';
import { Credentials } from './config-file';

export type CredentialsLookup = (host: string) => Promise<Credentials | undefined>;

export interface AuthorizerOptions {
  /** Where credentials come from (an AuthFile's `get`, or a fixed table in tests). */
  credentials?: CredentialsLookup;
  /** Dispatcher for token requests (a host's TLS settings); undici's global one by default. */
  dispatcher?: Dispatcher;
  userAgent?: string;
  /** Token request timeout (default 30 s). */
  timeoutMs?: number;
  /** Clock, for tests of expiry. */
  now?: () => number;
  /** May credentials go to this http:// origin in clear text? Default: loopback only. */
  plainHttpAllowed?: (host: string) => boolean;
}

interface HostState {
  scheme?: 'basic' | 'bearer';
  realm?: string;
  service?: string;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** A token is considered expired this long before the server says (clock skew, request time). */
const EXPIRY_MARGIN_MS = 10_000;
const DEFAULT_EXPIRES_S = 60;

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}

/** `repository:<path>:<actions>` scope strings; pull,push order normalised. */
export function repositoryScope(path: string, actions: ReadonlyArray<'pull' | 'push'>): string {
  const acts = [...new Set(actions)].sort((a, b) => (a === 'pull' ? -1 : b === 'pull' ? 1 : 0));
  return `repository:${path}:${acts.join(',')}`;
}

/** Merges scope strings: the same resource's actions are united. */
export function mergeScopes(scopes: readonly string[]): string[] {
  const byResource = new Map<string, Set<string>>();
  for (const s of scopes) {
    for (const one of s.split(' ').filter(Boolean)) {
      const i = one.lastIndexOf(':');
      if (i <= 0) continue;
      const res = one.slice(0, i);
      const set = byResource.get(res) ?? new Set<string>();
      for (const a of one.slice(i + 1).split(',')) if (a) set.add(a);
      byResource.set(res, set);
    }
  }
  return [...byResource.entries()].map(([r, a]) => `${r}:${[...a].sort().join(',')}`).sort();
}

export class Authorizer {
  private readonly hosts = new Map<string, HostState>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<CachedToken>>();
  private readonly now: () => number;
  /** Token requests made (tests check caching with it). */
  tokenRequests = 0;

  constructor(private readonly opts: AuthorizerOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  private async creds(host: string): Promise<Credentials | undefined> {
    return this.opts.credentials ? this.opts.credentials(host) : undefined;
  }

  /** Are there credentials for `host` (for error messages: "rejected" vs "required")? */
  async hasCredentials(host: string): Promise<boolean> {
    const c = await this.creds(host);
    return c !== undefined && (c.password !== undefined || c.identityToken !== undefined);
  }

  private tokenKey(host: string, scopes: readonly string[]): string {
    return `${host}|${mergeScopes(scopes).join(' ')}`;
  }

  /** The Authorization header for a request to `host` needing `scopes`, or undefined (anonymous). */
  async header(host: string, scopes: readonly string[]): Promise<string | undefined> {
    const st = this.hosts.get(host);
    if (!st?.scheme) return undefined;
    if (st.scheme === 'basic') return this.basicHeader(host);
    const cached = this.tokens.get(this.tokenKey(host, scopes));
    if (cached && cached.expiresAt > this.now()) return `Bearer ${cached.token}`;
    const t = await this.token(host, st, scopes);
    return `Bearer ${t.token}`;
  }

  private async basicHeader(host: string): Promise<string | undefined> {
    const c = await this.creds(host);
    if (!c?.username || c.password === undefined) return undefined;
    return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
  }

  /**
   * Handles a 401: learns what the host wants and prepares credentials for it. Returns true when a
   * retry can succeed (something new to send), false when it cannot (then the caller reports the 401).
   * `sent` is the Authorization header of the request that failed.
   */
  async challenge(host: string, wwwAuthenticate: string | readonly string[] | undefined, scopes: readonly string[], sent: string | undefined): Promise<boolean> {
    const challenges = parseChallenges(wwwAuthenticate);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer) return this.bearerChallenge(host, bearer, scopes, sent);
    if (basic) {
      this.hosts.set(host, { scheme: 'basic' });
      const h = await this.basicHeader(host);
      return h !== undefined && h !== sent;
    }
    return false;
  }

  private async bearerChallenge(host: string, c: Challenge, scopes: readonly string[], sent: string | undefined): Promise<boolean> {
    const realm = c.params['realm'];
    if (!realm) throw new InvalidArgumentError(`${host}: Bearer challenge without a realm`, { details: { field: 'WWW-Authenticate' } });
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new InvalidArgumentError(`${host}: Bearer realm is not a URL`, { details: { field: 'WWW-Authenticate.realm' } });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InvalidArgumentError(`${host}: Bearer realm must be http(s)`, { details: { field: 'WWW-Authenticate.realm' } });
    const st: HostState = { scheme: 'bearer', realm, ...(c.params['service'] !== undefined ? { service: c.params['service'] } : {}) };
    this.hosts.set(host, st);
    const want = mergeScopes([...scopes, ...(c.params['scope'] ? [c.params['scope']] : [])]);
    const key = this.tokenKey(host, want);
    const cached = this.tokens.get(key);
    if (sent?.startsWith('Bearer ') && cached && `Bearer ${cached.token}` === sent) {
      // The token we just sent was refused: drop it, and fetch a new one only if it was not fresh.
      this.tokens.delete(key);
      if (c.params['error'] !== 'invalid_token' && c.params['error'] !== 'insufficient_scope') return false;
    }
    const t = await this.token(host, st, want, true);
    // Also remember it under the caller's own scope set, so the next header() finds it.
    this.tokens.set(this.tokenKey(host, scopes), t);
    return `Bearer ${t.token}` !== sent;
  }

  /** A token for the scopes: from the cache, or one request shared by concurrent callers. */
  private token(host: string, st: HostState, scopes: readonly string[], refresh = false): Promise<CachedToken> {
    const key = this.tokenKey(host, scopes);
    const cached = this.tokens.get(key);
    if (!refresh && cached && cached.expiresAt > this.now()) return Promise.resolve(cached);
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetchToken(host, st, mergeScopes(scopes))
        .then((t) => {
          this.tokens.set(key, t);
          return t;
        })
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async fetchToken(host: string, st: HostState, scopes: string[]): Promise<CachedToken> {
    const realm = new URL(st.realm ?? '');
    const creds = await this.creds(host);
    const hasSecret = creds?.identityToken !== undefined || creds?.password !== undefined;
    if (hasSecret && realm.protocol === 'http:' && !isLoopbackHost(realm.host) && !(this.opts.plainHttpAllowed?.(realm.host) ?? false)) {
      throw new PermissionDeniedError(`${host}: refusing to send credentials to the token server ${realm.origin} over plain HTTP`, { details: { field: 'WWW-Authenticate.realm' } });
    }
    const what = `token for ${host} from ${realm.origin}${realm.pathname}`;
    const headers: Record<string, string> = { 'user-agent': this.opts.userAgent ?? 'podkit-image-store/0.1', accept: 'application/json' };
    let method: 'GET' | 'POST' = 'GET';
    let body: string | undefined;
    if (creds?.identityToken !== undefined) {
      // OAuth2 refresh-token grant (docker's `identitytoken`).
      method = 'POST';
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'podkit', access_type: 'offline' });
      if (st.service) form.set('service', st.service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      body = form.toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else {
      if (st.service) realm.searchParams.set('service', st.service);
      for (const s of scopes) realm.searchParams.append('scope', s);
      if (creds?.username && creds.password !== undefined) {
        realm.searchParams.set('account', creds.username);
        headers['authorization'] = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      }
    }
    this.tokenRequests++;
    let res: Dispatcher.ResponseData;
    try {
      res = await httpRequest(this.opts.dispatcher, {
        origin: realm.origin,
        path: realm.pathname + realm.search,
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        headersTimeout: this.opts.timeoutMs ?? 30_000,
        bodyTimeout: this.opts.timeoutMs ?? 30_000,
      });
    } catch (err) {
      if (isPodkitError(err)) throw err;
      const e = err as Error & { code?: string };
      throw new UnavailableError(`${what}: ${e.code ?? e.message}`, { cause: err });
    }
    const text = await res.body.text().catch(() => '');
    if (res.statusCode === 401 || res.statusCode === 403) {
      const who = creds?.username ? `user "${creds.username}"` : creds?.identityToken ? 'the identity token' : 'anonymous access';
      throw new PermissionDeniedError(`${what}: HTTP ${res.statusCode}: the token server refused ${who}`, { details: { field: 'credentials', status: res.statusCode } });
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      throw new UnavailableError(`${what}: HTTP ${res.statusCode}`, { details: { status: res.statusCode } });
    }
    let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    try {
      doc = JSON.parse(text) as typeof doc;
    } catch {
      throw new InvalidArgumentError(`${what}: the answer is not JSON`, { details: { field: 'token' } });
    }
    const token = typeof doc.token === 'string' && doc.token.length > 0 ? doc.token : typeof doc.access_token === 'string' ? doc.access_token : '';
    if (token.length === 0) throw new InvalidArgumentError(`${what}: the answer has no token`, { details: { field: 'token' } });
    const expiresIn = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : DEFAULT_EXPIRES_S;
    let issued = this.now();
    if (typeof doc.issued_at === 'string') {
      const t = Date.parse(doc.issued_at);
      // Trust the server's clock only when it is close to ours.
      if (Number.isFinite(t) && Math.abs(t - issued) < 60_000) issued = t;
    }
    return { token, expiresAt: issued + expiresIn * 1000 - EXPIRY_MARGIN_MS };
  }

  /** Forgets every token and learnt scheme (after a logout). */
  reset(): void {
    this.hosts.clear();
    this.tokens.clear();
  }
}
