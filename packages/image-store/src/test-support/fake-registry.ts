/**
 * A small in-process OCI registry for unit tests: serves manifests and blobs from memory over a real
 * HTTP socket on 127.0.0.1, with switches for the failures a client must survive (5xx answers, a
 * connection cut after some bytes, Range ignored, redirects to another path).
 */
import * as http from 'node:http';
import * as zlib from 'node:zlib';
import { Descriptor, MediaType, digestOf } from '@podkit/oci-spec';
import { buildTar, TarWriteEntry } from '../tar/writer';
import { LocalServer } from './local-server';

export interface Faults {
  /** Answer this many requests (any) with 503 first. */
  fail503?: number;
  /** Cut the first blob response of each digest after this many bytes. */
  cutBlobAfter?: number;
  /** Ignore Range headers (answer 200 with the whole blob). */
  ignoreRange?: boolean;
  /** Answer blob GETs with a 307 to /storage/<digest>. */
  redirectBlobs?: boolean;
  /** Refuse HEAD on manifests with 405. */
  noHead?: boolean;
}

export interface RequestLog {
  method: string;
  url: string;
  range?: string;
  accept?: string;
}

export class FakeRegistry extends LocalServer {
  readonly blobs = new Map<string, Buffer>();
  readonly manifests = new Map<string, { body: Buffer; mediaType: string }>();
  readonly log: RequestLog[] = [];
  faults: Faults = {};
  private cut = new Set<string>();

  addBlob(data: Buffer, mediaType: string): Descriptor {
    const digest = digestOf(data);
    this.blobs.set(digest, data);
    return { mediaType, digest, size: data.length };
  }

  /** Stores a manifest under its digest and under `repo:tag` if a tag is given. */
  addManifest(repo: string, doc: object, mediaType: string, tag?: string): Descriptor {
    const body = Buffer.from(JSON.stringify(doc));
    const digest = digestOf(body);
    this.manifests.set(`${repo}@${digest}`, { body, mediaType });
    if (tag) this.manifests.set(`${repo}:${tag}`, { body, mediaType });
    return { mediaType, digest, size: body.length };
  }

  /** Adds an image from layer entry lists; returns its manifest descriptor and parts. */
  addImage(repo: string, tag: string | undefined, layers: TarWriteEntry[][], opts: { gzip?: boolean; architecture?: string; config?: object } = {}) {
    const gzip = opts.gzip ?? true;
    const tars = layers.map((l) => buildTar(l));
    const layerDescs = tars.map((t) => this.addBlob(gzip ? zlib.gzipSync(t) : t, gzip ? MediaType.LayerGzip : MediaType.Layer));
    const config = {
      architecture: opts.architecture ?? 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/bin', 'A=1'], Cmd: ['/bin/sh'], WorkingDir: '/work', ...(opts.config ?? {}) },
      rootfs: { type: 'layers', diff_ids: tars.map((t) => digestOf(t)) },
    };
    const configDesc = this.addBlob(Buffer.from(JSON.stringify(config)), MediaType.ImageConfig);
    const manifest = { schemaVersion: 2, mediaType: MediaType.ImageManifest, config: configDesc, layers: layerDescs };
    const desc = this.addManifest(repo, manifest, MediaType.ImageManifest, tag);
    return { desc, configDesc, layerDescs, tars, config };
  }

  protected handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '';
    this.log.push({ method: req.method ?? '', url, ...(req.headers.range ? { range: req.headers.range } : {}), ...(req.headers.accept ? { accept: req.headers.accept } : {}) });
    if (this.faults.fail503 && this.faults.fail503 > 0) {
      this.faults.fail503--;
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'try later' }] }));
      return;
    }
    if (url === '/v2/') {
      res.writeHead(200).end('{}');
      return;
    }
    let m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url);
    if (m) {
      const ref = m[2] ?? '';
      const key = ref.startsWith('sha') && ref.includes(':') ? `${m[1]}@${ref}` : `${m[1]}:${ref}`;
      const man = this.manifests.get(key);
      if (!man) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
        return;
      }
      if (req.method === 'HEAD' && this.faults.noHead) {
        res.writeHead(405).end();
        return;
      }
      res.writeHead(200, { 'content-type': man.mediaType, 'content-length': man.body.length, 'docker-content-digest': digestOf(man.body) });
      res.end(req.method === 'HEAD' ? undefined : man.body);
      return;
    }
    m = /^\/(?:v2\/(.+)\/blobs|storage)\/(sha256:[0-9a-f]{64})$/.exec(url);
    if (m) {
      const digest = m[2] ?? '';
      const blob = this.blobs.get(digest);
      if (!blob) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown' }] }));
        return;
      }
      if (this.faults.redirectBlobs && url.startsWith('/v2/')) {
        res.writeHead(307, { location: `/storage/${m[2]}` }).end();
        return;
      }
      let start = 0;
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (range && !this.faults.ignoreRange) start = Number(range[1]);
      const body = blob.subarray(start);
      const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/octet-stream', 'content-length': body.length, 'docker-content-digest': m[2] };
      if (start > 0) headers['content-range'] = `bytes ${start}-${blob.length - 1}/${blob.length}`;
      res.writeHead(start > 0 ? 206 : 200, headers);
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      const cutAt = this.faults.cutBlobAfter;
      if (cutAt !== undefined && !this.cut.has(digest) && body.length > cutAt) {
        this.cut.add(digest);
        res.write(body.subarray(0, cutAt), () => res.destroy());
        return;
      }
      res.end(body);
      return;
    }
    res.writeHead(404).end();
  }

  /** Blob GETs seen for a digest. */
  blobGets(digest: string): RequestLog[] {
    return this.log.filter((l) => l.method === 'GET' && (l.url.endsWith(`/blobs/${digest}`) || l.url === `/storage/${digest}`));
  }
}
