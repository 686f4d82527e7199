import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isInvalidArgument, isPermissionDenied } from '@podkit/errdefs';
import { RegistryAccess } from '../hosts/access';
import { RegistryHosts } from '../hosts/config';
import { FakeRegistry } from '../test-support/fake-registry';
import { BearerGate, TokenServer } from '../test-support/token-server';
import { login, logout, registryHost } from './login';

const PASSWORD = 'Login-Pass-77';

describe('login / logout', () => {
  let dir: string;
  let reg: FakeRegistry;
  let tokens: TokenServer;
  let gate: BearerGate;
  let access: RegistryAccess;
  let authFile: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-login-'));
    authFile = path.join(dir, 'docker', 'config.json');
    reg = new FakeRegistry();
    await reg.start();
    tokens = new TokenServer({ users: { alice: PASSWORD } });
    await tokens.start();
    gate = new BearerGate(tokens, `http://${reg.host}`);
    await gate.start();
    access = RegistryAccess.withHosts(RegistryHosts.empty(), { authFile });
  });
  afterAll(async () => {
    await access.close();
    await gate.stop();
    await tokens.stop();
    await reg.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('normalises the registry argument', () => {
    expect(registryHost('https://127.0.0.1:5000/v2/')).toBe('127.0.0.1:5000');
    expect(registryHost('index.docker.io')).toBe('docker.io');
    expect(() => registryHost('not a host')).toThrow(/registry/);
  });

  it('checks the credentials against the registry, stores them, and logout removes them', async () => {
    const r = await login(access, gate.host, 'alice', PASSWORD);
    expect(r).toEqual({ registry: gate.host, file: authFile });
    expect(await access.authFile.get(gate.host)).toEqual({ username: 'alice', password: PASSWORD });
    expect(fs.statSync(authFile).mode & 0o777).toBe(0o600);
    expect((await logout(access, gate.host)).removed).toBe(true);
    expect((await logout(access, gate.host)).removed).toBe(false);
    expect(await access.authFile.get(gate.host)).toBeUndefined();
  });

  it('a wrong password is refused, clearly, and nothing is stored', async () => {
    const err = await login(access, gate.host, 'alice', 'Bad-Pass-1').catch((e: unknown) => e);
    expect(isPermissionDenied(err)).toBe(true);
    expect((err as Error).message).toContain('refused user "alice"');
    expect((err as Error).message).not.toContain('Bad-Pass-1');
    expect(await access.authFile.get(gate.host)).toBeUndefined();
    expect(isInvalidArgument(await login(access, gate.host, 'alice', '').catch((e: unknown) => e))).toBe(true);
  });
});
