/**
 * Per-registry settings, after containerd's hosts configuration (`certs.d/<host>/hosts.toml`), in one
 * JSON file (default `/etc/podkit/registries.json`):
 *
 *   { "registries": {
 *       "docker.io": {
 *         "mirrors": [ { "url": "http://127.0.0.1:5001" },
 *                      { "url": "https://mirror.example", "ca": "/etc/ssl/mirror-ca.pem" } ],
 *         "server": "https://registry-1.docker.io" },
 *       "registry.example:5000": { "insecure": true },
 *       "secure.example": { "ca": "/etc/ssl/ca.pem", "cert": "/etc/ssl/client.pem", "key": "/etc/ssl/client.key" } } }
 *
 * Per registry: `insecure` (plain HTTP to the upstream), `skipVerify` (TLS without certificate checks),
 * `ca` (one path or a list: PEM files trusted in addition to the system roots), `cert` + `key` (client
 * certificate), `server` (the upstream URL, when it is not `https://<host>`), and `mirrors`: endpoints
 * tried in order before the upstream, each with a `url` (scheme, host, optional path prefix before
 * `/v2/`), the same TLS fields and `capabilities` (default `["pull", "resolve"]`; add "push" to push
 * through it). The upstream always comes last and has every capability.
 */
import * as fsp from 'node:fs/promises';
import * as tls from 'node:tls';
import type { Dispatcher } from 'undici';
import { redirectInterceptor, undiciAgent } from '../http/undici';
import { FieldIssue, InvalidArgumentError, invalidDocument } from '@podkit/errdefs';

export const DEFAULT_HOSTS_FILE = '/etc/podkit/registries.json';

export type Capability = 'pull' | 'resolve' | 'push';
const CAPABILITIES: readonly Capability[] = ['pull', 'resolve', 'push'];

export interface TlsSettings {
  /** PEM CA certificates (contents, not paths), trusted besides the system roots. */
  ca?: string[];
  /** Client certificate and key (PEM contents). */
  cert?: string;
  key?: string;
  skipVerify?: boolean;
}

export interface RegistryEndpoint {
  /** Base URL without the trailing slash: requests go to `${url}/v2/...`. */
  url: string;
  /** host[:port] of `url`: the key for credentials and authorization state. */
  host: string;
  mirror: boolean;
  capabilities: ReadonlySet<Capability>;
  tls: TlsSettings;
}

interface MirrorDoc {
  url: string;
  capabilities?: Capability[];
  ca?: string | string[];
  cert?: string;
  key?: string;
  skipVerify?: boolean;
}

interface RegistryDoc {
  insecure?: boolean;
  skipVerify?: boolean;
  ca?: string | string[];
  cert?: string;
  key?: string;
  server?: string;
  mirrors?: MirrorDoc[];
}

export interface HostsDoc {
  registries?: Record<string, RegistryDoc>;
}

function isLoopback(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}

function checkTlsFields(o: Record<string, unknown>, at: string, issues: FieldIssue[]): void {
  if (o['ca'] !== undefined && typeof o['ca'] !== 'string' && !(Array.isArray(o['ca']) && o['ca'].every((c) => typeof c === 'string'))) issues.push({ path: `${at}.ca`, reason: 'must be a path or a list of paths' });
  for (const f of ['cert', 'key'] as const) if (o[f] !== undefined && typeof o[f] !== 'string') issues.push({ path: `${at}.${f}`, reason: 'must be a path' });
  if ((o['cert'] === undefined) !== (o['key'] === undefined)) issues.push({ path: `${at}.${o['cert'] === undefined ? 'cert' : 'key'}`, reason: 'cert and key go together' });
  if (o['skipVerify'] !== undefined && typeof o['skipVerify'] !== 'boolean') issues.push({ path: `${at}.skipVerify`, reason: 'must be a boolean' });
}

function checkUrl(v: unknown, at: string, issues: FieldIssue[]): void {
  if (typeof v !== 'string') {
    issues.push({ path: at, reason: 'must be a URL string' });
    return;
  }
  try {
    const u = new URL(v);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') issues.push({ path: at, reason: 'must be an http:// or https:// URL' });
    if (u.search || u.hash || u.username || u.password) issues.push({ path: at, reason: 'must not have a query, fragment or user info' });
  } catch {
    issues.push({ path: at, reason: 'must be a URL' });
  }
}

/** Validates a parsed hosts document; every problem is reported with its path. */
export function validateHostsDoc(doc: unknown, what = 'hosts config'): HostsDoc {
  const issues: FieldIssue[] = [];
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalidDocument(what, [{ path: '', reason: 'must be an object' }]);
  const regs = (doc as Record<string, unknown>)['registries'];
  if (regs !== undefined && (typeof regs !== 'object' || regs === null || Array.isArray(regs))) issues.push({ path: 'registries', reason: 'must be an object keyed by registry host' });
  else if (regs) {
    for (const [host, r] of Object.entries(regs as Record<string, unknown>)) {
      const at = `registries.${host}`;
      if (!/^[a-z0-9.-]+(:\d+)?$|^\[[0-9a-f:]+\](:\d+)?$/i.test(host)) issues.push({ path: at, reason: 'the key must be a registry host[:port]' });
      if (typeof r !== 'object' || r === null || Array.isArray(r)) {
        issues.push({ path: at, reason: 'must be an object' });
        continue;
      }
      const o = r as Record<string, unknown>;
      for (const k of Object.keys(o)) if (!['insecure', 'skipVerify', 'ca', 'cert', 'key', 'server', 'mirrors'].includes(k)) issues.push({ path: `${at}.${k}`, reason: 'unknown setting' });
      if (o['insecure'] !== undefined && typeof o['insecure'] !== 'boolean') issues.push({ path: `${at}.insecure`, reason: 'must be a boolean' });
      checkTlsFields(o, at, issues);
      if (o['server'] !== undefined) checkUrl(o['server'], `${at}.server`, issues);
      if (o['mirrors'] !== undefined) {
        if (!Array.isArray(o['mirrors'])) issues.push({ path: `${at}.mirrors`, reason: 'must be a list' });
        else
          o['mirrors'].forEach((m: unknown, i: number) => {
            const mat = `${at}.mirrors[${i}]`;
            if (typeof m !== 'object' || m === null) {
              issues.push({ path: mat, reason: 'must be an object with a url' });
              return;
            }
            const mo = m as Record<string, unknown>;
            for (const k of Object.keys(mo)) if (!['url', 'capabilities', 'ca', 'cert', 'key', 'skipVerify'].includes(k)) issues.push({ path: `${mat}.${k}`, reason: 'unknown setting' });
            checkUrl(mo['url'], `${mat}.url`, issues);
            checkTlsFields(mo, mat, issues);
            const caps = mo['capabilities'];
            if (caps !== undefined && (!Array.isArray(caps) || caps.some((c) => !CAPABILITIES.includes(c as Capability)))) issues.push({ path: `${mat}.capabilities`, reason: `must be a list of ${CAPABILITIES.join(', ')}` });
          });
      }
    }
  }
  if (issues.length > 0) throw invalidDocument(what, issues);
  return doc as HostsDoc;
}

async function readPem(file: string, field: string): Promise<string> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (err) {
    throw new InvalidArgumentError(`${field}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err, details: { field } });
  }
}

async function loadTls(o: { ca?: string | string[]; cert?: string; key?: string; skipVerify?: boolean }, at: string): Promise<TlsSettings> {
  const out: TlsSettings = {};
  if (o.ca !== undefined) out.ca = await Promise.all((typeof o.ca === 'string' ? [o.ca] : o.ca).map((f, i) => readPem(f, `${at}.ca[${i}]`)));
  if (o.cert !== undefined) out.cert = await readPem(o.cert, `${at}.cert`);
  if (o.key !== undefined) out.key = await readPem(o.key, `${at}.key`);
  if (o.skipVerify) out.skipVerify = true;
  return out;
}

function trimUrl(u: string): string {
  return u.replace(/\/+$/, '').replace(/\/v2$/, '');
}

interface LoadedRegistry {
  upstream: RegistryEndpoint;
  mirrors: RegistryEndpoint[];
}

/** Registry settings resolved to endpoints, with one undici dispatcher per distinct TLS setting. */
export class RegistryHosts {
  private readonly dispatchers = new Map<string, Dispatcher>();

  private constructor(
    private readonly registries: Map<string, LoadedRegistry>,
    private readonly extraInsecure: ReadonlySet<string>,
    private readonly agentOptions: { timeoutMs: number; maxRedirections: number },
  ) {}

  /** Settings from a parsed document (PEM files are read now, so errors show at start-up). */
  static async fromDoc(doc: unknown, opts: { insecureRegistries?: readonly string[]; timeoutMs?: number; maxRedirections?: number; what?: string } = {}): Promise<RegistryHosts> {
    const d = validateHostsDoc(doc, opts.what);
    const map = new Map<string, LoadedRegistry>();
    for (const [host, r] of Object.entries(d.registries ?? {})) {
      const at = `registries.${host}`;
      const scheme = r.insecure ? 'http' : 'https';
      const serverUrl = trimUrl(r.server ?? `${scheme}://${host === 'docker.io' ? 'registry-1.docker.io' : host}`);
      const upstream: RegistryEndpoint = { url: serverUrl, host: new URL(serverUrl).host, mirror: false, capabilities: new Set(CAPABILITIES), tls: await loadTls(r, at) };
      const mirrors: RegistryEndpoint[] = [];
      for (const [i, m] of (r.mirrors ?? []).entries()) {
        const url = trimUrl(m.url);
        mirrors.push({ url, host: new URL(url).host, mirror: true, capabilities: new Set(m.capabilities ?? ['pull', 'resolve']), tls: await loadTls(m, `${at}.mirrors[${i}]`) });
      }
      map.set(host.toLowerCase(), { upstream, mirrors });
    }
    return new RegistryHosts(map, new Set(opts.insecureRegistries ?? []), { timeoutMs: opts.timeoutMs ?? 30_000, maxRedirections: opts.maxRedirections ?? 5 });
  }

  /** Settings from a file; a missing file at the default path means no settings. */
  static async load(file: string | undefined, opts: { insecureRegistries?: readonly string[]; timeoutMs?: number; maxRedirections?: number } = {}): Promise<RegistryHosts> {
    const path = file ?? DEFAULT_HOSTS_FILE;
    let text: string;
    try {
      text = await fsp.readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && file === undefined) return RegistryHosts.fromDoc({}, opts);
      throw new InvalidArgumentError(`hosts config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err, details: { field: 'hosts-config' } });
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new InvalidArgumentError(`hosts config ${path}: not valid JSON: ${(err as Error).message}`, { details: { field: 'hosts-config' } });
    }
    return RegistryHosts.fromDoc(doc, { ...opts, what: `hosts config ${path}` });
  }

  /** No settings: every registry is its own https upstream (http for loopback and `insecureRegistries`). */
  static empty(opts: { insecureRegistries?: readonly string[]; timeoutMs?: number; maxRedirections?: number } = {}): RegistryHosts {
    return new RegistryHosts(new Map(), new Set(opts.insecureRegistries ?? []), { timeoutMs: opts.timeoutMs ?? 30_000, maxRedirections: opts.maxRedirections ?? 5 });
  }

  /** The endpoints to try for `domain`, in order: mirrors with the capability, then the upstream. */
  endpoints(domain: string, capability: Capability): RegistryEndpoint[] {
    const r = this.registries.get(domain.toLowerCase());
    if (r) {
      const upstream = this.extraInsecure.has(domain) ? { ...r.upstream, url: r.upstream.url.replace(/^https:/, 'http:') } : r.upstream;
      return [...r.mirrors.filter((m) => m.capabilities.has(capability)), upstream];
    }
    const host = domain === 'docker.io' ? 'registry-1.docker.io' : domain;
    const insecure = this.extraInsecure.has(domain) || isLoopback(domain);
    return [{ url: `${insecure ? 'http' : 'https'}://${host}`, host, mirror: false, capabilities: new Set(CAPABILITIES), tls: {} }];
  }

  /** Is plain HTTP to `host` configured (or loopback)? Credentials may go there in clear text. */
  plainHttpAllowed(host: string): boolean {
    if (isLoopback(host) || this.extraInsecure.has(host)) return true;
    for (const [name, r] of this.registries) {
      if (name === host && r.upstream.url.startsWith('http:')) return true;
      if (r.mirrors.some((m) => m.host === host && m.url.startsWith('http:'))) return true;
    }
    return false;
  }

  /** The dispatcher for an endpoint: one undici Agent per distinct TLS setting, redirects followed. */
  dispatcher(ep: RegistryEndpoint): Dispatcher {
    const key = JSON.stringify(ep.tls);
    let d = this.dispatchers.get(key);
    if (!d) {
      const t = this.agentOptions.timeoutMs;
      const Agent = undiciAgent();
      d = new Agent({
        headersTimeout: t,
        bodyTimeout: t,
        connectTimeout: t,
        connect: {
          ...(ep.tls.ca ? { ca: [...tls.rootCertificates, ...ep.tls.ca] } : {}),
          ...(ep.tls.cert ? { cert: ep.tls.cert } : {}),
          ...(ep.tls.key ? { key: ep.tls.key } : {}),
          ...(ep.tls.skipVerify ? { rejectUnauthorized: false } : {}),
        },
      }).compose(redirectInterceptor({ maxRedirections: this.agentOptions.maxRedirections }));
      this.dispatchers.set(key, d);
    }
    return d;
  }

  async close(): Promise<void> {
    await Promise.all([...this.dispatchers.values()].map((d) => d.close()));
    this.dispatchers.clear();
  }
}

