/**
 * Pushes an image (a manifest, or an index and its manifests) from the content store to a registry,
 * as distribution-spec's push flow:
 *
 *   for each blob (config, layers):  HEAD /v2/<name>/blobs/<digest>           200 → already there
 *     POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo>               201 → mounted
 *     POST /v2/<name>/blobs/uploads/                                          202 Location: session
 *     PATCH <session>  Content-Range: <start>-<end>  (chunkSize bytes each)   202 Location: next
 *     PUT   <session>?digest=<digest>                                         201
 *   then    PUT /v2/<name>/manifests/<tag|digest>  Content-Type: <media type>  201
 *
 * Blobs small enough for one chunk go in the closing PUT (monolithic upload after POST). Children of an
 * index are pushed by digest before the index. Blobs are pushed in parallel (bounded), manifests last,
 * so a reader never sees a manifest whose blobs are missing. Authorization is the shared Authorizer
 * (scope `repository:<name>:pull,push`, plus `pull` on the mount source).
 */
import { Dispatcher } from 'undici';
import { DataLossError, FailedPreconditionError, InvalidArgumentError, NotFoundError, PodkitError, UnavailableError, isPodkitError, isUnavailable } from '@podkit/errdefs';
import { Descriptor, Digest, Reference, isIndexMediaType, isManifestMediaType } from '@podkit/oci-spec';
import { Authorizer, repositoryScope } from '../auth/authorizer';
import { authorizedRequest } from '../auth/session';
import { ContentStore } from '../content/store';
import { RegistryEndpoint, RegistryHosts } from '../hosts/config';
import { bounded } from '../bounded';

export interface PushContext {
  hosts: RegistryHosts;
  auth: Authorizer;
  content: ContentStore;
  userAgent?: string;
}

export type PushEvent = { type: 'blob'; digest: Digest; size: number; status: 'exists' | 'mounted' | 'pushing' | 'pushed'; done: number } | { type: 'manifest'; digest: Digest; reference: string };

export interface PushOptions {
  /** Repositories on the destination registry that may have the blobs: tried as cross-repository mounts. */
  mountFrom?: readonly string[];
  /** PATCH chunk size (default 16 MiB). */
  chunkSize?: number;
  /** Blobs pushed at once (default 3). */
  concurrency?: number;
  onProgress?: (e: PushEvent) => void;
}

export interface PushResult {
  digest: Digest;
  pushed: Digest[];
  skipped: Digest[];
  mounted: Digest[];
}

const MAX_MANIFEST = 4 * 1024 * 1024;

async function errorFromResponse(res: Dispatcher.ResponseData, what: string): Promise<PodkitError> {
  const text = await res.body.text().catch(() => '');
  let detail = '';
  try {
    const errs = (JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> }).errors;
    if (Array.isArray(errs) && errs.length > 0) detail = `: ${errs.map((e) => [e.code, e.message].filter(Boolean).join(' ')).join('; ')}`;
  } catch {
    /* not a registry error document */
  }
  const msg = `${what}: HTTP ${res.statusCode}${detail}`;
  const details = { status: res.statusCode };
  if (res.statusCode === 404) return new NotFoundError(msg, { details });
  if (res.statusCode >= 500 || res.statusCode === 429) return new UnavailableError(msg, { details });
  if (res.statusCode === 403) return new FailedPreconditionError(msg, { details });
  return new InvalidArgumentError(msg, { details });
}

function location(res: Dispatcher.ResponseData, base: string, what: string): string {
  const loc = res.headers['location'];
  if (typeof loc !== 'string' || loc.length === 0) throw new InvalidArgumentError(`${what}: the registry answered ${res.statusCode} without a Location`, { details: { field: 'Location' } });
  return new URL(loc, `${base}/`).toString();
}

function withQuery(url: string, key: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(key, value);
  return u.toString();
}

/** Reads a blob from the store in chunks of exactly `size` bytes (the last may be shorter). */
async function* chunks(content: ContentStore, digest: string, size: number): AsyncGenerator<Buffer> {
  let buf = Buffer.allocUnsafe(size);
  let n = 0;
  for await (const c of (await content.readStream(digest)) as AsyncIterable<Buffer>) {
    let off = 0;
    while (off < c.length) {
      const k = c.copy(buf, n, off);
      n += k;
      off += k;
      if (n === size) {
        yield buf;
        buf = Buffer.allocUnsafe(size);
        n = 0;
      }
    }
  }
  if (n > 0) yield buf.subarray(0, n);
}

class Pusher {
  private readonly scopes: string[];
  readonly result: Omit<PushResult, 'digest'> = { pushed: [], skipped: [], mounted: [] };
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(
    private readonly ctx: PushContext,
    private readonly ref: Reference,
    private readonly ep: RegistryEndpoint,
    private readonly opts: PushOptions,
  ) {
    this.scopes = [repositoryScope(ref.path, ['pull', 'push']), ...(opts.mountFrom ?? []).filter((r) => r !== ref.path).map((r) => repositoryScope(r, ['pull']))];
  }

  private get base(): string {
    return `${this.ep.url}/v2/${this.ref.path}`;
  }

  private async req(method: Dispatcher.HttpMethod, url: string, what: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<Dispatcher.ResponseData> {
    return authorizedRequest(this.ctx.auth, {
      method,
      url,
      host: this.ep.host,
      scopes: this.scopes,
      headers: { 'user-agent': this.ctx.userAgent ?? 'podkit-image-store/0.1', ...headers },
      ...(body !== undefined ? { body } : {}),
      dispatcher: this.ctx.hosts.dispatcher(this.ep),
      what,
    }).catch((err: unknown) => {
      if (isPodkitError(err)) throw err;
      const e = err as Error & { code?: string };
      throw new UnavailableError(`${what}: ${e.code ? `${e.code} ` : ''}${e.message}`, { cause: err, details: { errno: e.code } });
    });
  }

  private emit(e: PushEvent): void {
    this.opts.onProgress?.(e);
  }

  async blobExists(desc: Descriptor): Promise<boolean> {
    const what = `blob ${desc.digest} in ${this.ref.domain}/${this.ref.path}`;
    const res = await this.req('HEAD', `${this.base}/blobs/${desc.digest}`, what);
    await res.body.dump().catch(() => undefined);
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    throw await errorFromResponse(res, what);
  }

  /** Uploads one blob unless the registry has it (shared between manifests that list it twice). */
  blob(desc: Descriptor): Promise<void> {
    let p = this.inflight.get(desc.digest);
    if (!p) {
      p = this.doBlob(desc);
      this.inflight.set(desc.digest, p);
    }
    return p;
  }

  private async doBlob(desc: Descriptor): Promise<void> {
    const digest = desc.digest as Digest;
    const what = `blob ${digest} to ${this.ref.domain}/${this.ref.path}`;
    if (!(await this.ctx.content.has(digest))) throw new NotFoundError(`${what}: not in the local content store`, { details: { field: 'digest' } });
    const info = await this.ctx.content.info(digest);
    if (info.size !== desc.size) throw new DataLossError(`${what}: the store has ${info.size} bytes, the descriptor says ${desc.size}`, { details: { field: 'size' } });
    if (await this.blobExists(desc)) {
      this.result.skipped.push(digest);
      this.emit({ type: 'blob', digest, size: desc.size, status: 'exists', done: desc.size });
      return;
    }
    let session: string | undefined;
    for (const from of this.opts.mountFrom ?? []) {
      if (from === this.ref.path) continue;
      const url = `${this.base}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
      const res = await this.req('POST', url, `${what} (mount from ${from})`);
      if (res.statusCode === 201) {
        await res.body.dump().catch(() => undefined);
        this.result.mounted.push(digest);
        this.emit({ type: 'blob', digest, size: desc.size, status: 'mounted', done: desc.size });
        return;
      }
      if (res.statusCode === 202) {
        // Not mountable (the source lacks it, or no access): the registry opened a normal upload.
        session = location(res, this.ep.url, what);
        await res.body.dump().catch(() => undefined);
        break;
      }
      throw await errorFromResponse(res, what);
    }
    if (session === undefined) {
      const res = await this.req('POST', `${this.base}/blobs/uploads/`, what);
      if (res.statusCode !== 202) throw await errorFromResponse(res, what);
      session = location(res, this.ep.url, what);
      await res.body.dump().catch(() => undefined);
    }
    const chunkSize = this.opts.chunkSize ?? 16 * 1024 * 1024;
    this.emit({ type: 'blob', digest, size: desc.size, status: 'pushing', done: 0 });
    let done = 0;
    let last: Buffer | undefined;
    if (desc.size > chunkSize) {
      for await (const c of chunks(this.ctx.content, digest, chunkSize)) {
        const res = await this.req('PATCH', session, what, { 'content-type': 'application/octet-stream', 'content-range': `${done}-${done + c.length - 1}`, 'content-length': String(c.length) }, c);
        if (res.statusCode !== 202) throw await errorFromResponse(res, what);
        session = location(res, this.ep.url, what);
        await res.body.dump().catch(() => undefined);
        done += c.length;
        this.emit({ type: 'blob', digest, size: desc.size, status: 'pushing', done });
      }
      if (done !== desc.size) throw new DataLossError(`${what}: read ${done} of ${desc.size} bytes from the store`);
    } else {
      last = await this.ctx.content.readBlob(digest, chunkSize);
    }
    const res = await this.req('PUT', withQuery(session, 'digest', digest), what, { 'content-type': 'application/octet-stream', 'content-length': String(last?.length ?? 0) }, last ?? Buffer.alloc(0));
    if (res.statusCode !== 201 && res.statusCode !== 204) throw await errorFromResponse(res, what);
    const got = res.headers['docker-content-digest'];
    await res.body.dump().catch(() => undefined);
    if (typeof got === 'string' && got.length > 0 && got !== digest) throw new DataLossError(`${what}: the registry stored digest ${got}`, { details: { field: 'digest' } });
    this.result.pushed.push(digest);
    this.emit({ type: 'blob', digest, size: desc.size, status: 'pushed', done: desc.size });
  }

  async manifest(desc: Descriptor, body: Buffer, reference: string): Promise<void> {
    const what = `manifest ${this.ref.domain}/${this.ref.path}:${reference}`;
    const res = await this.req('PUT', `${this.base}/manifests/${reference}`, what, { 'content-type': desc.mediaType }, body);
    if (res.statusCode !== 201 && res.statusCode !== 200) throw await errorFromResponse(res, what);
    const got = res.headers['docker-content-digest'];
    await res.body.dump().catch(() => undefined);
    if (typeof got === 'string' && got.length > 0 && got !== desc.digest) throw new DataLossError(`${what}: the registry computed digest ${got}, ours is ${desc.digest}`, { details: { field: 'digest' } });
    this.emit({ type: 'manifest', digest: desc.digest as Digest, reference });
  }
}

function parseDoc(body: Buffer, what: string): { config?: Descriptor; layers?: Descriptor[]; manifests?: Descriptor[] } {
  try {
    return JSON.parse(body.toString('utf8')) as { config?: Descriptor; layers?: Descriptor[]; manifests?: Descriptor[] };
  } catch {
    throw new InvalidArgumentError(`${what}: not JSON`, { details: { field: 'manifest' } });
  }
}

/** Pushes one manifest (its blobs first) or an index (its manifests first, by digest). */
async function pushTree(p: Pusher, ctx: PushContext, desc: Descriptor, reference: string, opts: PushOptions): Promise<void> {
  const body = await ctx.content.readBlob(desc.digest, MAX_MANIFEST);
  const doc = parseDoc(body, `manifest ${desc.digest}`);
  if (isIndexMediaType(desc.mediaType)) {
    for (const child of doc.manifests ?? []) {
      if (!(await ctx.content.has(child.digest))) throw new FailedPreconditionError(`index ${desc.digest}: manifest ${child.digest} is not in the local store (pulled for another platform?); push the platform manifest instead`, { details: { field: 'manifests' } });
      await pushTree(p, ctx, child, child.digest, opts);
    }
  } else if (isManifestMediaType(desc.mediaType)) {
    const blobs = [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])];
    await bounded(blobs, opts.concurrency ?? 3, (b) => p.blob(b));
  } else {
    throw new InvalidArgumentError(`cannot push media type ${JSON.stringify(desc.mediaType)}`, { details: { field: 'mediaType' } });
  }
  await p.manifest(desc, body, reference);
}

/**
 * Pushes `root` (a manifest or an index in the content store) to `ref` (its tag, or its digest when the
 * reference has none). Endpoints with the push capability are tried in order (mirrors configured for
 * push first, then the upstream) while they are unreachable.
 */
export async function pushImage(ctx: PushContext, ref: Reference, root: Descriptor, opts: PushOptions = {}): Promise<PushResult> {
  if (ref.digest && ref.digest !== root.digest) throw new InvalidArgumentError(`push: the destination digest ${ref.digest} is not the image's ${root.digest}`, { details: { field: 'reference' } });
  const reference = ref.tag ?? root.digest;
  const endpoints = ctx.hosts.endpoints(ref.domain, 'push');
  let lastErr: unknown;
  for (const ep of endpoints) {
    const p = new Pusher(ctx, ref, ep, opts);
    try {
      await pushTree(p, ctx, root, reference, opts);
      return { digest: root.digest as Digest, ...p.result };
    } catch (err) {
      lastErr = err;
      if (!isUnavailable(err) || ep === endpoints[endpoints.length - 1]) throw err;
    }
  }
  throw lastErr;
}
