/**
 * The write half of a registry for unit tests: blob uploads (POST, PATCH with Content-Range, PUT with
 * ?digest=, monolithic or chunked), cross-repository mounts, HEAD of blobs and manifest PUTs, stored in
 * a FakeRegistry's maps (so the same FakeRegistry then serves pulls). Every other request is proxied
 * to the FakeRegistry. Blobs are per registry, not per repository, except that a mount or a HEAD only
 * succeeds for repositories that got the blob (as distribution's repository links do).
 */
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { digestOf } from '@podkit/oci-spec';
import { FakeRegistry } from './fake-registry';
import { LocalServer } from './local-server';

export interface UploadLog {
  method: string;
  path: string;
  contentRange?: string;
  bytes: number;
}

export class PushRegistry extends LocalServer {
  readonly uploads = new Map<string, { repo: string; parts: Buffer[]; size: number }>();
  /** repository → digests it links. */
  readonly links = new Map<string, Set<string>>();
  readonly log: UploadLog[] = [];

  constructor(readonly backend: FakeRegistry) {
    super();
  }

  protected handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => this.respond(req, Buffer.concat(chunks), res));
  }

  link(repo: string, digest: string): void {
    const s = this.links.get(repo) ?? new Set<string>();
    s.add(digest);
    this.links.set(repo, s);
  }

  private err(res: http.ServerResponse, status: number, code: string): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code, message: code.toLowerCase() }] }));
  }

  private respond(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? '';
    this.log.push({ method, path: url.pathname + url.search, ...(req.headers['content-range'] ? { contentRange: String(req.headers['content-range']) } : {}), bytes: body.length });
    let m = /^\/v2\/(.+)\/blobs\/uploads\/$/.exec(url.pathname);
    if (m && method === 'POST') {
      const repo = m[1] ?? '';
      const mount = url.searchParams.get('mount');
      const from = url.searchParams.get('from');
      if (mount && from && this.links.get(from)?.has(mount) && this.backend.blobs.has(mount)) {
        this.link(repo, mount);
        res.writeHead(201, { location: `/v2/${repo}/blobs/${mount}`, 'docker-content-digest': mount }).end();
        return;
      }
      const id = crypto.randomBytes(8).toString('hex');
      this.uploads.set(id, { repo, parts: [], size: 0 });
      res.writeHead(202, { location: `/v2/${repo}/blobs/uploads/${id}?_state=s${id}`, range: '0-0', 'docker-upload-uuid': id }).end();
      return;
    }
    m = /^\/v2\/(.+)\/blobs\/uploads\/([0-9a-f]+)$/.exec(url.pathname);
    if (m) {
      const up = this.uploads.get(m[2] ?? '');
      if (!up) return this.err(res, 404, 'BLOB_UPLOAD_UNKNOWN');
      if (method === 'PATCH') {
        const cr = /^(\d+)-(\d+)$/.exec(String(req.headers['content-range'] ?? ''));
        if (cr && (Number(cr[1]) !== up.size || Number(cr[2]) !== up.size + body.length - 1)) return this.err(res, 416, 'RANGE_INVALID');
        up.parts.push(body);
        up.size += body.length;
        res.writeHead(202, { location: `/v2/${up.repo}/blobs/uploads/${m[2]}?_state=n${up.size}`, range: `0-${up.size - 1}` }).end();
        return;
      }
      if (method === 'PUT') {
        const digest = url.searchParams.get('digest') ?? '';
        const data = Buffer.concat([...up.parts, body]);
        if (digestOf(data) !== digest) return this.err(res, 400, 'DIGEST_INVALID');
        this.uploads.delete(m[2] ?? '');
        this.backend.blobs.set(digest, data);
        this.link(up.repo, digest);
        res.writeHead(201, { location: `/v2/${up.repo}/blobs/${digest}`, 'docker-content-digest': digest }).end();
        return;
      }
    }
    m = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
    if (m && method === 'HEAD') {
      const ok = this.links.get(m[1] ?? '')?.has(m[2] ?? '') && this.backend.blobs.has(m[2] ?? '');
      const blob = this.backend.blobs.get(m[2] ?? '');
      res.writeHead(ok ? 200 : 404, ok && blob ? { 'content-length': blob.length, 'docker-content-digest': m[2] } : {}).end();
      return;
    }
    m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (m && method === 'PUT') {
      const repo = m[1] ?? '';
      const doc = JSON.parse(body.toString('utf8')) as { config?: { digest: string }; layers?: Array<{ digest: string }>; manifests?: Array<{ digest: string }> };
      for (const d of [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])]) if (!this.backend.blobs.has(d.digest)) return this.err(res, 400, 'MANIFEST_BLOB_UNKNOWN');
      for (const d of doc.manifests ?? []) if (!this.backend.manifests.has(`${repo}@${d.digest}`)) return this.err(res, 400, 'MANIFEST_UNKNOWN');
      const digest = digestOf(body);
      const mediaType = String(req.headers['content-type'] ?? '');
      this.backend.manifests.set(`${repo}@${digest}`, { body, mediaType });
      if (!(m[2] ?? '').startsWith('sha256:')) this.backend.manifests.set(`${repo}:${m[2]}`, { body, mediaType });
      res.writeHead(201, { location: `/v2/${repo}/manifests/${digest}`, 'docker-content-digest': digest }).end();
      return;
    }
    // Reads: to the FakeRegistry.
    const out = http.request({ host: '127.0.0.1', port: this.backend.port, method, path: req.url, headers: req.headers }, (ures) => {
      res.writeHead(ures.statusCode ?? 502, ures.headers);
      ures.pipe(res);
    });
    out.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    out.end(body);
  }
}
