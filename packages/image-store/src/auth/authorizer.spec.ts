import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { isPermissionDenied } from '@podkit/errdefs';
import { MediaType } from '@podkit/oci-spec';
import { FakeRegistry } from '../test-support/fake-registry';
import { BearerGate, TokenServer } from '../test-support/token-server';
import { Authorizer, mergeScopes, repositoryScope } from './authorizer';
import { Credentials } from './config-file';
import { authorizedRequest } from './session';

const PASSWORD = 'pw-Alice-7f3a';

describe('registry authorization', () => {
  let fake: FakeRegistry;
  let tokens: TokenServer;
  let gate: BearerGate;
  let agent: Agent;
  const messages: string[] = [];

  beforeAll(async () => {
    fake = new FakeRegistry();
    await fake.start();
    fake.addImage('lib/app', 'v1', [[{ name: 'a', data: 'a' }]]);
    fake.addImage('lib/other', 'v1', [[{ name: 'b', data: 'b' }]]);
    fake.addImage('secret/x', 'v1', [[{ name: 'c', data: 'c' }]]);
    tokens = new TokenServer({ users: { alice: PASSWORD }, refreshTokens: { 'refresh-Tok-99': 'alice' }, allow: (_u, repo) => !repo.startsWith('secret/') });
    await tokens.start();
    gate = new BearerGate(tokens, `http://${fake.host}`);
    await gate.start();
    agent = new Agent();
  });

  afterAll(async () => {
    await agent.close();
    await gate.stop();
    await tokens.stop();
    await fake.stop();
    // No secret reached any error message of these tests.
    const secrets = [PASSWORD, 'refresh-Tok-99', Buffer.from(`alice:${PASSWORD}`).toString('base64'), ...tokens.grants.keys()];
    for (const m of messages) for (const s of secrets) expect(m).not.toContain(s);
  });

  function authorizer(creds?: Credentials, now?: () => number): Authorizer {
    return new Authorizer({ credentials: async () => creds, ...(now ? { now } : {}) });
  }

  async function get(auth: Authorizer, repo: string, host = gate.host): Promise<number> {
    try {
      const res = await authorizedRequest(auth, {
        method: 'GET',
        url: `http://${host}/v2/${repo}/manifests/v1`,
        host,
        scopes: [repositoryScope(repo, ['pull'])],
        headers: { accept: MediaType.ImageManifest },
        dispatcher: agent,
        what: `manifest ${repo}:v1`,
      });
      await res.body.dump();
      return res.statusCode;
    } catch (err) {
      messages.push((err as Error).message);
      throw err;
    }
  }

  it('merges and formats scopes', () => {
    expect(repositoryScope('a/b', ['push', 'pull'])).toBe('repository:a/b:pull,push');
    expect(mergeScopes(['repository:a:pull', 'repository:a:push', 'repository:b:pull'])).toEqual(['repository:a:pull,push', 'repository:b:pull']);
  });

  it('Bearer: answers the challenge with a token, caches it per scope and fetches the next scope without a 401', async () => {
    const auth = authorizer({ username: 'alice', password: PASSWORD });
    const refused = gate.refused.length;
    expect(await get(auth, 'lib/app')).toBe(200);
    expect(gate.refused.length).toBe(refused + 1); // the first, anonymous request
    expect(auth.tokenRequests).toBe(1);
    expect(tokens.log[tokens.log.length - 1]).toMatchObject({ method: 'GET', user: 'alice', scopes: ['repository:lib/app:pull'], status: 200 });
    expect(await get(auth, 'lib/app')).toBe(200);
    expect(auth.tokenRequests).toBe(1);
    expect(await get(auth, 'lib/other')).toBe(200);
    expect(auth.tokenRequests).toBe(2);
    expect(gate.refused.length).toBe(refused + 1);
  });

  it('Bearer: concurrent requests for one scope share one token request', async () => {
    const auth = authorizer({ username: 'alice', password: PASSWORD });
    expect(await get(auth, 'lib/app')).toBe(200);
    const before = auth.tokenRequests;
    const other = await Promise.all(Array.from({ length: 5 }, () => get(auth, 'lib/other')));
    expect(other).toEqual([200, 200, 200, 200, 200]);
    expect(auth.tokenRequests).toBe(before + 1);
  });

  it('Bearer: an expired token is replaced', async () => {
    let clock = Date.now();
    const auth = authorizer({ username: 'alice', password: PASSWORD }, () => clock);
    expect(await get(auth, 'lib/app')).toBe(200);
    expect(auth.tokenRequests).toBe(1);
    clock += (tokens.expiresIn + 1) * 1000;
    expect(await get(auth, 'lib/app')).toBe(200);
    expect(auth.tokenRequests).toBe(2);
  });

  it('Bearer: a token the registry no longer accepts is fetched again', async () => {
    const auth = authorizer({ username: 'alice', password: PASSWORD });
    expect(await get(auth, 'lib/app')).toBe(200);
    tokens.grants.clear(); // the token server forgot it (restart, revocation)
    expect(await get(auth, 'lib/app')).toBe(200);
    expect(auth.tokenRequests).toBe(2);
  });

  it('Bearer: an identity token uses the OAuth2 refresh-token grant', async () => {
    const auth = authorizer({ username: '<token>', password: '', identityToken: 'refresh-Tok-99' });
    expect(await get(auth, 'lib/app')).toBe(200);
    expect(tokens.log[tokens.log.length - 1]).toMatchObject({ method: 'POST', user: 'alice', status: 200 });
  });

  it('Bearer: wrong password, no credentials and a scope the user lacks give clear PermissionDenied errors', async () => {
    const wrong = await get(authorizer({ username: 'alice', password: 'nope-Wrong-1' }), 'lib/app').catch((e: unknown) => e);
    expect(isPermissionDenied(wrong)).toBe(true);
    expect((wrong as Error).message).toMatch(/token server refused user "alice"/);
    expect((wrong as Error).message).not.toContain('nope-Wrong-1');
    const anon = await get(authorizer(undefined), 'lib/app').catch((e: unknown) => e);
    expect(isPermissionDenied(anon)).toBe(true);
    expect((anon as Error).message).toMatch(/refused anonymous access/);
    const denied = await get(authorizer({ username: 'alice', password: PASSWORD }), 'secret/x').catch((e: unknown) => e);
    expect(isPermissionDenied(denied)).toBe(true);
    expect((denied as Error).message).toMatch(/rejected the credentials/);
  });

  it('never sends credentials to another origin than the registry (upload URLs on object storage)', async () => {
    const seen: Array<string | undefined> = [];
    const other = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200).end('{}');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    try {
      const auth = authorizer({ username: 'alice', password: PASSWORD });
      expect(await get(auth, 'lib/app')).toBe(200); // the gate's host now has a token
      const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}/upload?sig=x`;
      const res = await authorizedRequest(auth, { method: 'GET', url, host: gate.host, scopes: [repositoryScope('lib/app', ['pull'])], dispatcher: agent, what: 'upload' });
      await res.body.dump();
      expect(res.statusCode).toBe(200);
      expect(seen).toEqual([undefined]);
    } finally {
      other.closeAllConnections();
      await new Promise((r) => other.close(r));
    }
  });

  describe('Basic', () => {
    let server: http.Server;
    let host: string;
    beforeAll(async () => {
      const want = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`;
      server = http.createServer((req, res) => {
        if (req.headers.authorization !== want) {
          res.writeHead(401, { 'www-authenticate': 'Basic realm="Registry Realm"', 'content-type': 'application/json' });
          res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
          return;
        }
        res.writeHead(200, { 'content-type': MediaType.ImageManifest }).end('{}');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });

    it('sends the credentials after the challenge, and at once afterwards', async () => {
      const auth = authorizer({ username: 'alice', password: PASSWORD });
      expect(await get(auth, 'a/b', host)).toBe(200);
      expect(await auth.header(host, [])).toMatch(/^Basic /);
      expect(await get(auth, 'c/d', host)).toBe(200);
      expect(auth.tokenRequests).toBe(0);
    });

    it('wrong or missing credentials are PermissionDenied naming the host, not the secret', async () => {
      const wrong = await get(authorizer({ username: 'alice', password: 'bad-Pass-2' }), 'a/b', host).catch((e: unknown) => e);
      expect(isPermissionDenied(wrong)).toBe(true);
      expect((wrong as Error).message).toContain(`the registry rejected the credentials for ${host}`);
      expect((wrong as Error).message).not.toContain('bad-Pass-2');
      const none = await get(authorizer(undefined), 'a/b', host).catch((e: unknown) => e);
      expect((none as Error).message).toContain(`no credentials for ${host} (run podimg login ${host})`);
    });
  });
});
