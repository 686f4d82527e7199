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
 */
import { Agent, Dispatcher, interceptors } from 'undici';
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

function loopback(host: string): boolean {
  const h = host.replace(/:\d+$/, '');
  return h === 'localhost' || h === '127.0.0.1' || h === '[::1]' || h.startsWith('127.');
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
  private readonly opts: Required<Omit<RegistryClientOptions, 'insecureRegistries'>> & { insecureRegistries: Set<string> };
  private readonly dispatcher: Dispatcher;
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
    this.dispatcher = new Agent({ headersTimeout: this.opts.timeoutMs, bodyTimeout: this.opts.timeoutMs, connectTimeout: this.opts.timeoutMs }).compose(
      interceptors.redirect({ maxRedirections: this.opts.maxRedirections }),
    );
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  /** The base URL of a registry: `https://host`, or `http://host` for insecure and loopback ones. */
  endpoint(domain: string): string {
    const host = domain === 'docker.io' ? 'registry-1.docker.io' : domain;
    const insecure = this.opts.insecureRegistries.has(domain) || loopback(domain);
    return `${insecure ? 'http' : 'https'}://${host}`;
  }

  private url(ref: Reference, kind: 'manifests' | 'blobs', reference: string): string {
    return `${this.endpoint(ref.domain)}/v2/${ref.path}/${kind}/${reference}`;
  }

  private async backoff(attempt: number): Promise<void> {
    const ms = this.opts.backoffMs * 2 ** attempt * (0.75 + Math.random() * 0.5);
    await new Promise((r) => setTimeout(r, ms));
  }

  /** One request with retries for network errors and 408/429/5xx. */
  private async send(method: 'GET' | 'HEAD', url: string, headers: Record<string, string>, what: string): Promise<Dispatcher.ResponseData> {
    for (let attempt = 0; ; attempt++) {
      try {
        this.requests++;
        const res = await this.dispatcher.request({ origin: new URL(url).origin, path: new URL(url).pathname + new URL(url).search, method, headers: { 'user-agent': this.opts.userAgent, ...headers } });
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
    const head = await this.send('HEAD', this.url(ref, 'manifests', reference), { accept: MANIFEST_ACCEPT }, what).catch((err: unknown) => err as Error);
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
    const res = await this.send('GET', this.url(ref, 'manifests', reference), { accept: MANIFEST_ACCEPT }, what);
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
        const res = await this.send('GET', this.url(ref, 'blobs', desc.digest), headers, what);
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
