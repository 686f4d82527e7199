/**
 * Debian's docker-registry with htpasswd basic auth, for the auth e2e tests: the harness's TestRegistry
 * has no auth option, so this wrapper writes its own config (users hashed with `htpasswd -B` from
 * apache2-utils: distribution accepts only bcrypt), on a free 127.0.0.1 port with temporary storage.
 * `stop()` ends the process by its pid and removes the storage.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

/** Why the auth registry cannot run here, or undefined when it can. */
export function htpasswdRegistryMissing(): string | undefined {
  if (!fs.existsSync(REGISTRY_BIN)) return `${REGISTRY_BIN} is missing (Debian package docker-registry)`;
  if (spawnSync('htpasswd', ['-h']).error) return 'htpasswd is missing (Debian package apache2-utils, in tools/setup.sh)';
  return undefined;
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

export class HtpasswdRegistry {
  readonly dir: string;
  port = 0;
  private proc?: ChildProcess;
  private exited?: Promise<void>;
  private stderr = '';

  constructor(private readonly users: Record<string, string>) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-e2e-authreg-'));
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(timeoutMs = 20_000): Promise<void> {
    const htpasswd = path.join(this.dir, 'htpasswd');
    fs.writeFileSync(htpasswd, '');
    for (const [u, p] of Object.entries(this.users)) {
      const r = spawnSync('htpasswd', ['-B', '-b', htpasswd, u, p], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`htpasswd failed: ${r.stderr}`);
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      this.port = await freePort();
      const config = path.join(this.dir, 'config.yml');
      fs.mkdirSync(path.join(this.dir, 'storage'), { recursive: true });
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
          'auth:',
          '  htpasswd:',
          '    realm: podkit-e2e',
          `    path: ${htpasswd}`,
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
        if ((await ping(`http://${this.host}/v2/`)) === 401) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      await this.kill();
      if (!/address already in use/.test(this.stderr)) break;
    }
    throw new Error(`docker-registry (htpasswd) did not answer on ${this.host}: ${this.stderr.trim()}`);
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
