/**
 * An OCI distribution-spec v2 client over undici (anonymous access; auth comes later).
 *
 * - resolve(): HEAD the manifest (cheap, gives the digest), then GET it by digest with an Accept
 *   header for OCI and Docker manifests and indexes; the body is checked against the digest.
 * - blob(): streams a blob; a connection that breaks is retried with backoff and resumed with a
 *   Range request from the last byte received (a server that ignores Range is read from the start and
 *   the bytes already delivered are skipped).
 * - plain HTTP for registries listed as insecure and for localhost / 127.0.0.1 / [::1]; redirects
 *   (blob storage behind the registry) are followed.
 * - auth, mirrors and TLS come from a RegistryAccess (hosts config + credentials file, issue 9): each
 *   request goes to the registry's endpoints in order (mirrors first, the upstream last) until one
 *   answers, with Basic or Bearer authorization for `repository:<path>:pull`.
 */
import { Dispatcher } from 'undici';
import {
  DataLossError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  PodkitError,
  ResourceExhaustedError,
  UnavailableError,
  isPodkitError,
} from '@podkit/errdefs';
import { Descriptor, Digester, MediaType, Reference, parseDigest } from '@podkit/oci-spec';
import { repositoryScope } from '../auth/authorizer';
import { authorizedRequest } from '../auth/session';
import { RegistryAccess } from '../hosts/access';
import { Capability, RegistryEndpoint, RegistryHosts } from '../hosts/config';

export const MANIFEST_ACCEPT = [MediaType.ImageManifest, MediaType.ImageIndex, MediaType.DockerManifest, MediaType.DockerManifestList].join(', ');

export interface RegistryClientOptions {
  /** Registries (host[:port]) reached over plain HTTP. */
  insecureRegistries?: readonly string[];
  /** Attempts after the first for a failing request or a broken stream (default 4). */
  retries?: number;
  /** First backoff delay; doubles each attempt (default 200 ms). */
  backoffMs?: number;
  /** Largest manifest accepted (default 4 MiB). */
  maxManifestSize?: number;
  /** Largest number of redirects followed (default 5). */
  maxRedirections?: number;
  /** Connection and body idle timeouts (default 30 s). */
  timeoutMs?: number;
  userAgent?: string;
  /** Endpoints, TLS and credentials (default: no hosts config, the default credentials file). */
  access?: RegistryAccess;
}

export interface ManifestResult {
  descriptor: Descriptor;
  body: Buffer;
}

const RETRIABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);
const RETRIABLE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED', 'EAI_AGAIN']);

class RetriableError extends UnavailableError {}

function isRetriable(err: unknown): boolean {
  if (err instanceof RetriableError) return true;
  if (isPodkitError(err)) return false;
  const code = (err as { code?: string })?.code;
  return typeof code === 'string' && RETRIABLE_CODES.has(code);
}

async function readLimited(body: AsyncIterable<Buffer>, max: number, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > max) throw new ResourceExhaustedError(`${what}: larger than the limit of ${max} bytes`, { details: { field: 'size' } });
    parts.push(c);
  }
  return Buffer.concat(parts);
}

export class RegistryClient {
  private readonly opts: Required<Omit<RegistryClientOptions, 'insecureRegistries' | 'access'>> & { insecureRegistries: Set<string> };
  readonly access: RegistryAccess;
  /** Whether close() closes `access` (it does when the client made it). */
  private readonly ownsAccess: boolean;
  /** Requests made, for tests and progress accounting. */
  requests = 0;

  constructor(opts: RegistryClientOptions = {}) {
    this.opts = {
      insecureRegistries: new Set(opts.insecureRegistries ?? []),
      retries: opts.retries ?? 4,
      backoffMs: opts.backoffMs ?? 200,
      maxManifestSize: opts.maxManifestSize ?? 4 * 1024 * 1024,
      maxRedirections: opts.maxRedirections ?? 5,
      timeoutMs: opts.timeoutMs ?? 30_000,
      userAgent: opts.userAgent ?? 'podkit-image-store/0.1',
    };
    this.ownsAccess = opts.access === undefined;
    this.access =
      opts.access ??
      RegistryAccess.withHosts(RegistryHosts.empty({ insecureRegistries: [...this.opts.insecureRegistries], timeoutMs: this.opts.timeoutMs, maxRedirections: this.opts.maxRedirections }), {
        userAgent: this.opts.userAgent,
        timeoutMs: this.opts.timeoutMs,
      });
  }

  async close(): Promise<void> {
    if (this.ownsAccess) await this.access.close();
  }

  /** The base URL of a registry's upstream: `https://host`, or `http://host` for insecure and loopback ones. */
  endpoint(domain: string): string {
    const eps = this.access.hosts.endpoints(domain, 'pull');
    return (eps[eps.length - 1] as RegistryEndpoint).url;
  }

  /** The endpoints of a registry for a request, in the order they are tried. */
  private endpoints(ref: Reference, capability: Capability): RegistryEndpoint[] {
    return this.access.hosts.endpoints(ref.domain, capability);
  }

  private async backoff(attempt: number): Promise<void> {
    const ms = this.opts.backoffMs * 2 ** attempt * (0.75 + Math.random() * 0.5);
    await new Promise((r) => setTimeout(r, ms));
  }

  /**
   * One request to the first endpoint that answers it (mirrors, then the upstream): a mirror that
   * fails (missing content, refused, unreachable) hands over to the next endpoint.
   */
  private async send(method: 'GET' | 'HEAD', ref: Reference, kind: 'manifests' | 'blobs', reference: string, headers: Record<string, string>, what: string): Promise<Dispatcher.ResponseData> {
    const eps = this.endpoints(ref, kind === 'manifests' && !reference.includes(':') ? 'resolve' : 'pull');
    for (const [i, ep] of eps.entries()) {
      try {
        return await this.sendTo(ep, method, `${ep.url}/v2/${ref.path}/${kind}/${reference}`, ref, headers, what);
      } catch (err) {
        if (i === eps.length - 1) throw err;
      }
    }
    throw new UnavailableError(`${what}: no endpoint`);
  }

  /** One request to one endpoint, authorized, with retries for network errors and 408/429/5xx. */
  private async sendTo(ep: RegistryEndpoint, method: 'GET' | 'HEAD', url: string, ref: Reference, headers: Record<string, string>, what: string): Promise<Dispatcher.ResponseData> {
    for (let attempt = 0; ; attempt++) {
      try {
        this.requests++;
        const res = await authorizedRequest(this.access.auth, {
          method,
          url,
          host: ep.host,
          scopes: [repositoryScope(ref.path, ['pull'])],
          headers: { 'user-agent': this.opts.userAgent, ...headers },
          dispatcher: this.access.hosts.dispatcher(ep),
          what,
        });
        if (res.statusCode >= 200 && res.statusCode < 300) return res;
        const text = method === 'HEAD' ? '' : (await readLimited(res.body, 64 * 1024, what).catch(() => Buffer.alloc(0))).toString('utf8');
        if (method === 'HEAD') await res.body.dump().catch(() => undefined);
        throw this.statusError(res.statusCode, text, what);
      } catch (err) {
        if (!isRetriable(err) || attempt >= this.opts.retries) throw this.finalError(err, what);
        await this.backoff(attempt);
      }
    }
  }

  private statusError(status: number, body: string, what: string): PodkitError {
    let detail = '';
    try {
      const errs = (JSON.parse(body) as { errors?: Array<{ code?: string; message?: string }> }).errors;
      if (Array.isArray(errs) && errs.length > 0) detail = `: ${errs.map((e) => [e.code, e.message].filter(Boolean).join(' ')).join('; ')}`;
    } catch {
      /* not a registry error document */
    }
    const msg = `${what}: HTTP ${status}${detail}`;
    const details = { field: 'reference', status };
    if (status === 404) return new NotFoundError(msg, { details });
    if (status === 401 || status === 403) return new PermissionDeniedError(msg, { details });
    if (RETRIABLE_STATUS.has(status)) return new RetriableError(msg, { details });
    return new InvalidArgumentError(msg, { details });
  }

  private finalError(err: unknown, what: string): PodkitError {
    if (isPodkitError(err)) return err;
    const e = err as Error & { code?: string };
    return new UnavailableError(`${what}: ${e.code ? `${e.code} ` : ''}${e.message}`, { cause: err, details: { errno: e.code } });
  }

  /** Resolves a tag or digest to the manifest (or index) it names: HEAD, then GET by digest. */
  async resolve(ref: Reference): Promise<ManifestResult> {
    const reference = ref.digest ?? ref.tag ?? 'latest';
    const what = `manifest ${ref.domain}/${ref.path}:${reference}`;
    const head = await this.send('HEAD', ref, 'manifests', reference, { accept: MANIFEST_ACCEPT }, what).catch((err: unknown) => err as Error);
    if (head instanceof Error) {
      if (head instanceof NotFoundError || head instanceof PermissionDeniedError) throw head;
      // Some registries refuse HEAD: fall back to GET.
      return this.fetchManifest(ref, reference);
    }
    const digest = head.headers['docker-content-digest'];
    if (typeof digest === 'string' && digest.length > 0) {
      if (ref.digest && digest !== ref.digest) throw new DataLossError(`${what}: the registry answered with digest ${digest}`);
      return this.fetchManifest(ref, digest);
    }
    return this.fetchManifest(ref, reference);
  }

  /** Fetches a manifest or index by tag or digest and checks it against the digest. */
  async fetchManifest(ref: Reference, reference: string, expected?: Descriptor): Promise<ManifestResult> {
    const what = `manifest ${ref.domain}/${ref.path}@${reference}`;
    const res = await this.send('GET', ref, 'manifests', reference, { accept: MANIFEST_ACCEPT }, what);
    const len = Number(res.headers['content-length'] ?? NaN);
    if (len > this.opts.maxManifestSize) {
      await res.body.dump().catch(() => undefined);
      throw new ResourceExhaustedError(`${what}: ${len} bytes exceeds the manifest limit of ${this.opts.maxManifestSize}`, { details: { field: 'size' } });
    }
    const body = await readLimited(res.body, this.opts.maxManifestSize, what);
    const isDigest = reference.includes(':');
    const headerDigest = res.headers['docker-content-digest'];
    const algorithm = isDigest ? parseDigest(reference).algorithm : 'sha256';
    const digest = new Digester(algorithm).update(body).digest();
    if (isDigest && digest !== reference) throw new DataLossError(`${what}: content has digest ${digest}`, { details: { field: 'digest' } });
    if (!isDigest && typeof headerDigest === 'string' && headerDigest.startsWith('sha256:') && headerDigest !== digest) {
      throw new DataLossError(`${what}: content has digest ${digest}, the registry said ${headerDigest}`, { details: { field: 'digest' } });
    }
    if (expected && expected.size !== body.length) throw new DataLossError(`${what}: ${body.length} bytes, the descriptor says ${expected.size}`);
    let mediaType = String(res.headers['content-type'] ?? '').replace(/;.*$/, '').trim();
    try {
      const doc = JSON.parse(body.toString('utf8')) as { mediaType?: unknown };
      if (typeof doc.mediaType === 'string') mediaType = doc.mediaType;
    } catch {
      throw new InvalidArgumentError(`${what}: not a JSON document`, { details: { field: 'manifest' } });
    }
    return { descriptor: { mediaType, digest, size: body.length }, body };
  }

  /**
   * Streams a blob from byte `start`, resuming with Range after a broken connection. The bytes are not
   * verified here: the caller hashes them (it also hashes what it had before `start`).
   */
  async *blob(ref: Reference, desc: Descriptor, start = 0): AsyncGenerator<Buffer> {
    const what = `blob ${desc.digest} of ${ref.domain}/${ref.path}`;
    let offset = start;
    let attempt = 0;
    while (offset < desc.size) {
      let progressed = false;
      try {
        const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
        const res = await this.send('GET', ref, 'blobs', desc.digest, headers, what);
        let skip = 0;
        if (res.statusCode === 206) {
          const m = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
          if (!m || Number(m[1]) !== offset) {
            await res.body.dump().catch(() => undefined);
            throw new RetriableError(`${what}: the registry answered range ${String(res.headers['content-range'])} for bytes=${offset}-`);
          }
        } else {
          skip = offset; // Range ignored: the whole blob comes again
        }
        for await (const raw of res.body) {
          let chunk = raw as Buffer;
          if (skip > 0) {
            const s = Math.min(skip, chunk.length);
            skip -= s;
            chunk = chunk.subarray(s);
            if (chunk.length === 0) continue;
          }
          if (offset + chunk.length > desc.size) throw new DataLossError(`${what}: more than the ${desc.size} bytes of the descriptor`, { details: { field: 'size' } });
          offset += chunk.length;
          progressed = true;
          yield chunk;
        }
        if (offset < desc.size) throw new RetriableError(`${what}: connection ended after ${offset} of ${desc.size} bytes`);
      } catch (err) {
        if (progressed) attempt = 0;
        if (!isRetriable(err) || attempt >= this.opts.retries) throw this.finalError(err, what);
        await this.backoff(attempt++);
      }
    }
  }
}
