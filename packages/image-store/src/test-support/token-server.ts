/**
 * A token server for tests of the registry Bearer flow (distribution's token spec), and a gate that
 * puts it in front of any registry:
 *
 * - `TokenServer` answers `GET /token?service=…&scope=…` with Basic credentials of its users, and the
 *   OAuth2 `POST /token` with `grant_type=refresh_token` (docker's identity tokens) or `password`.
 *   Tokens are opaque random strings with the granted scopes and an expiry (`expiresIn` seconds).
 * - `BearerGate` is a reverse proxy on 127.0.0.1 that demands a token with the right scope for each
 *   registry request (pull for GET/HEAD, push for the rest; a cross-repository mount also needs pull on
 *   `from`, else the mount parameters are dropped as distribution does) and answers 401 with a
 *   `WWW-Authenticate: Bearer realm=…,service=…,scope=…` challenge otherwise. It forwards everything
 *   else, bodies streamed, to the upstream registry (a FakeRegistry or a real docker-registry).
 */
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { LocalServer } from './local-server';

export interface TokenGrant {
  user: string;
  scopes: Set<string>;
  expiresAt: number;
}

export interface TokenServerOptions {
  /** user → password. */
  users?: Record<string, string>;
  /** identity (refresh) token → user. */
  refreshTokens?: Record<string, string>;
  /** Token lifetime in seconds (default 300). */
  expiresIn?: number;
  service?: string;
  /** Which actions a user gets on a repository (default: every action asked for). */
  allow?: (user: string, repository: string, action: string) => boolean;
}

export class TokenServer extends LocalServer {
  readonly grants = new Map<string, TokenGrant>();
  /** Every token request: query/form, the user it authenticated, and the status answered. */
  readonly log: Array<{ method: string; scopes: string[]; user?: string; status: number }> = [];
  expiresIn: number;
  readonly service: string;

  constructor(private readonly opts: TokenServerOptions = {}) {
    super();
    this.expiresIn = opts.expiresIn ?? 300;
    this.service = opts.service ?? 'podkit-test-registry';
  }

  get realm(): string {
    return `http://127.0.0.1:${this.port}/token`;
  }

  protected handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.respond(req, res).catch(() => {
      res.writeHead(500).end();
    });
  }

  /** The grant behind a token, if it is known and not expired. */
  check(token: string): TokenGrant | undefined {
    const g = this.grants.get(token);
    if (!g || g.expiresAt <= Date.now()) return undefined;
    return g;
  }

  private async respond(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/token') {
      res.writeHead(404).end();
      return;
    }
    let scopes: string[] = url.searchParams.getAll('scope').flatMap((s) => s.split(' ').filter(Boolean));
    let user: string | undefined;
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
      if (form.get('grant_type') === 'refresh_token') user = this.opts.refreshTokens?.[form.get('refresh_token') ?? ''];
      else if (form.get('grant_type') === 'password') {
        const u = form.get('username') ?? '';
        if (this.opts.users?.[u] !== undefined && this.opts.users[u] === form.get('password')) user = u;
      }
    } else {
      const m = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
      if (m) {
        const [u, ...rest] = Buffer.from(m[1] ?? '', 'base64').toString('utf8').split(':');
        if (u !== undefined && this.opts.users?.[u] !== undefined && this.opts.users[u] === rest.join(':')) user = u;
      }
    }
    if (user === undefined) {
      this.log.push({ method: req.method ?? '', scopes, status: 401 });
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="podkit test token server"' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    const granted = new Set<string>();
    for (const s of scopes) {
      const m = /^repository:(.+):([a-z,*]+)$/.exec(s);
      if (!m) continue;
      for (const a of (m[2] ?? '').split(',')) if (this.opts.allow?.(user, m[1] ?? '', a) ?? true) granted.add(`repository:${m[1]}:${a}`);
    }
    const token = crypto.randomBytes(24).toString('base64url');
    this.grants.set(token, { user, scopes: granted, expiresAt: Date.now() + this.expiresIn * 1000 });
    this.log.push({ method: req.method ?? '', scopes, user, status: 200 });
    const body: Record<string, unknown> = { token, access_token: token, expires_in: this.expiresIn, issued_at: new Date().toISOString() };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }
}

/** Splits `/v2/<name>/<kind>/…` into the repository name; undefined for `/v2/` and unknown paths. */
function repositoryOf(pathname: string): string | undefined {
  const m = /^\/v2\/(.+?)\/(manifests|blobs|tags)(\/|$)/.exec(pathname);
  return m?.[1];
}

export class BearerGate extends LocalServer {
  /** Requests refused with 401, with the scope the challenge asked for. */
  readonly refused: Array<{ method: string; path: string; scope?: string }> = [];

  /** `upstream`: `http://127.0.0.1:PORT` of the registry behind the gate. */
  constructor(
    private readonly tokens: TokenServer,
    private readonly upstream: string,
  ) {
    super();
  }

  private deny(req: http.IncomingMessage, res: http.ServerResponse, scope: string | undefined, error?: string): void {
    this.refused.push({ method: req.method ?? '', path: req.url ?? '', ...(scope ? { scope } : {}) });
    const params = [`realm="${this.tokens.realm}"`, `service="${this.tokens.service}"`, ...(scope ? [`scope="${scope}"`] : []), ...(error ? [`error="${error}"`] : [])];
    res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': `Bearer ${params.join(',')}` });
    res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
  }

  protected handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://gate');
    const repo = repositoryOf(url.pathname);
    const action = req.method === 'GET' || req.method === 'HEAD' ? 'pull' : 'push';
    const scope = repo ? `repository:${repo}:${action === 'push' ? 'pull,push' : 'pull'}` : undefined;
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (!m) return this.deny(req, res, scope);
    const grant = this.tokens.check(m[1] ?? '');
    if (!grant) return this.deny(req, res, scope, 'invalid_token');
    if (repo) {
      const need = action === 'push' ? [`repository:${repo}:pull`, `repository:${repo}:push`] : [`repository:${repo}:pull`];
      if (!need.every((s) => grant.scopes.has(s))) return this.deny(req, res, scope, 'insufficient_scope');
      const from = url.searchParams.get('from');
      if (from && !grant.scopes.has(`repository:${from}:pull`)) {
        url.searchParams.delete('mount');
        url.searchParams.delete('from');
      }
    }
    const headers = { ...req.headers };
    delete headers.authorization;
    const up = new URL(this.upstream);
    const out = http.request({ host: up.hostname, port: up.port, method: req.method, path: url.pathname + url.search, headers }, (ures) => {
      res.writeHead(ures.statusCode ?? 502, ures.headers);
      ures.pipe(res);
    });
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(out);
  }
}
