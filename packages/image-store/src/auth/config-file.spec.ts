import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isInvalidArgument } from '@podkit/errdefs';
import { AuthFile, DOCKER_HUB_KEY, defaultAuthFile, normalizeHost, registryKey } from './config-file';

describe('docker config.json credentials', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-authfile-'));
    file = path.join(dir, 'sub', 'config.json');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('resolves the default path from --auth-file, $DOCKER_CONFIG, then ~/.docker', () => {
    expect(defaultAuthFile({ DOCKER_CONFIG: '/etc/dc', HOME: '/home/u' })).toBe('/etc/dc/config.json');
    expect(defaultAuthFile({ HOME: '/home/u' })).toBe('/home/u/.docker/config.json');
  });

  it('normalises hosts and Docker Hub keys', () => {
    expect(normalizeHost('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normalizeHost('http://Reg.Example:5000/v2/')).toBe('reg.example:5000');
    expect(registryKey('docker.io')).toBe(DOCKER_HUB_KEY);
    expect(registryKey('127.0.0.1:5000')).toBe('127.0.0.1:5000');
  });

  it('writes base64 auth with mode 0600, reads it back, keeps other keys, and removes it', async () => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ credsStore: 'none', auths: { 'other.example': { auth: Buffer.from('o:p').toString('base64') } } }));
    const a = new AuthFile(file);
    await a.set('127.0.0.1:5000', { username: 'alice', password: 's3cr:et' });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(doc.credsStore).toBe('none');
    expect(doc.auths['127.0.0.1:5000']).toEqual({ auth: Buffer.from('alice:s3cr:et').toString('base64') });
    expect(await a.get('127.0.0.1:5000')).toEqual({ username: 'alice', password: 's3cr:et' });
    expect(await a.get('other.example')).toEqual({ username: 'o', password: 'p' });
    expect(await a.get('nowhere.example')).toBeUndefined();
    expect(await a.remove('127.0.0.1:5000')).toBe(true);
    expect(await a.remove('127.0.0.1:5000')).toBe(false);
    expect(await a.get('127.0.0.1:5000')).toBeUndefined();
    expect(await a.get('other.example')).toBeDefined();
  });

  it('stores Docker Hub under the v1 URL key and finds URL-form keys, username/password fields and identity tokens', async () => {
    const a = new AuthFile(file);
    await a.set('docker.io', { username: 'bob', password: 'pw' });
    expect(Object.keys(JSON.parse(fs.readFileSync(file, 'utf8')).auths)).toEqual([DOCKER_HUB_KEY]);
    expect(await a.get('index.docker.io')).toEqual({ username: 'bob', password: 'pw' });
    fs.writeFileSync(file, JSON.stringify({ auths: { 'https://reg.example/v1/': { username: 'u', password: 'p' }, 'tok.example': { auth: Buffer.from('<token>:').toString('base64'), identitytoken: 'refresh-123' } } }));
    expect(await a.get('reg.example')).toEqual({ username: 'u', password: 'p' });
    expect(await a.get('tok.example')).toEqual({ username: '<token>', password: '', identityToken: 'refresh-123' });
  });

  it('a missing file means no credentials; a broken file or entry is an error that does not show secrets', async () => {
    const a = new AuthFile(file);
    expect(await a.get('x.example')).toBeUndefined();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '{"auths": {"x.example": {"auth": "c2VjcmV0LXdpdGhvdXQtY29sb24="}}}');
    const err = await a.get('x.example').catch((e: unknown) => e);
    expect(isInvalidArgument(err)).toBe(true);
    expect((err as Error).message).toContain('auths["x.example"].auth');
    expect((err as Error).message).not.toContain('secret');
    expect((err as Error).message).not.toContain('c2VjcmV0');
    fs.writeFileSync(file, '{"auths": {"x.example": {"auth": "hunter2"');
    const err2 = await a.get('x.example').catch((e: unknown) => e);
    expect(isInvalidArgument(err2)).toBe(true);
    expect((err2 as Error).message).not.toContain('hunter2');
  });

  it('validates what login stores', async () => {
    const a = new AuthFile(file);
    await expect(a.set('r.example', { username: 'a:b', password: 'x' })).rejects.toThrow(/username/);
    await expect(a.set('r.example', { username: 'a', password: '' })).rejects.toThrow(/password/);
  });
});
