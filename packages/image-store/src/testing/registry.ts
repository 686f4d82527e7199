/**
 * A real registry for tests: Debian's `docker-registry` (distribution 2.8) on a free 127.0.0.1 port with
 * its own storage (a fresh temporary directory, or `dir`), anonymous or with htpasswd basic auth (users
 * hashed with `htpasswd -B` from apache2-utils, since distribution accepts only bcrypt). `start()` waits
 * (polling with a deadline) until /v2/ answers; `stop()` ends the process by its PID and removes the
 * storage. The one implementation: this package's auth tests, the tools benchmarks/demo
 * (tools/src/images/registry.ts re-exports it) and the e2e suites all start this class.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { invalidField } from '@podkit/errdefs';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

/** Why the registry (with `htpasswd`: and the htpasswd tool) cannot run here, or undefined when it can. */
export function registryMissing(opts: { htpasswd?: boolean } = {}): string | undefined {
  if (!fs.existsSync(REGISTRY_BIN)) return `${REGISTRY_BIN} is missing (Debian package docker-registry)`;
  if (opts.htpasswd && spawnSync('htpasswd', ['-h']).error) return 'htpasswd is missing (Debian package apache2-utils, in tools/setup.sh)';
  return undefined;
}

export function registryAvailable(): boolean {
  return registryMissing() === undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function ping(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => {
      req.destroy();
      resolve(undefined);
    });
  });
}

export interface TestRegistryOptions {
  /**
   * Where the config and storage live (created by `start()` if missing, removed by `stop()`), so a
   * caller can record it before anything exists. Default: a fresh temporary directory.
   */
  dir?: string;
  /** user → password: htpasswd basic auth (anonymous requests get 401). Default: anonymous access. */
  users?: Record<string, string>;
}

export class TestRegistry {
  private proc?: ChildProcess;
  private exited?: Promise<void>;
  readonly dir: string;
  port = 0;
  private stderr = '';
  private readonly users?: Record<string, string>;

  constructor(opts: TestRegistryOptions = {}) {
    if (opts.dir !== undefined && (opts.dir === '' || !path.isAbsolute(opts.dir))) {
      throw invalidField('dir', `must be an absolute path, got ${JSON.stringify(opts.dir)}`);
    }
    this.dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-registry-'));
    this.users = opts.users;
  }

  /** The PID of the running `docker-registry serve` (set as soon as `start()` spawned it), else undefined. */
  get pid(): number | undefined {
    const p = this.proc;
    return p && p.exitCode === null && p.signalCode === null ? p.pid : undefined;
  }

  /** host:port, e.g. `127.0.0.1:41234`. */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The auth section of the config (empty without users), writing the htpasswd file. */
  private writeAuth(): string[] {
    if (!this.users) return [];
    const file = path.join(this.dir, 'htpasswd');
    fs.writeFileSync(file, '', { mode: 0o600 });
    for (const [u, p] of Object.entries(this.users)) {
      const r = spawnSync('htpasswd', ['-B', '-b', file, u, p], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`htpasswd failed: ${r.error?.message ?? r.stderr}`);
    }
    return ['auth:', '  htpasswd:', '    realm: podkit-test', `    path: ${file}`];
  }

  async start(timeoutMs = 20_000): Promise<void> {
    fs.mkdirSync(path.join(this.dir, 'storage'), { recursive: true, mode: 0o700 });
    const auth = this.writeAuth();
    const ready = this.users ? 401 : 200;
    for (let attempt = 0; attempt < 3; attempt++) {
      this.port = await freePort();
      const config = path.join(this.dir, 'config.yml');
      fs.writeFileSync(
        config,
        [
          'version: 0.1',
          'log:',
          '  level: error',
          '  accesslog:',
          '    disabled: true',
          'storage:',
          '  filesystem:',
          `    rootdirectory: ${path.join(this.dir, 'storage')}`,
          '  delete:',
          '    enabled: true',
          'http:',
          `  addr: 127.0.0.1:${this.port}`,
          ...auth,
          '',
        ].join('\n'),
      );
      const proc = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      this.proc = proc;
      this.stderr = '';
      proc.stderr?.on('data', (c: Buffer) => {
        this.stderr = (this.stderr + c.toString()).slice(-4000);
      });
      let dead = false;
      this.exited = new Promise((resolve) =>
        proc.once('exit', () => {
          dead = true;
          resolve();
        }),
      );
      const deadline = Date.now() + timeoutMs;
      while (!dead && Date.now() < deadline) {
        if ((await ping(`http://${this.host}/v2/`)) === ready) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      await this.kill();
      if (!/address already in use/.test(this.stderr)) break; // port taken between probe and bind: retry
    }
    throw new Error(`docker-registry did not answer ${ready} on ${this.host}: ${this.stderr.trim()}`);
  }

  private async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    await this.kill();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
