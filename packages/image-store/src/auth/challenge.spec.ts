import { parseChallenges } from './challenge';

describe('parseChallenges', () => {
  it('parses a registry Bearer challenge', () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
    ]);
  });

  it('parses Basic, case-insensitive names, token values, escapes and spaces', () => {
    expect(parseChallenges('basic Realm="Registry Realm"')).toEqual([{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
    expect(parseChallenges('Bearer realm = "a\\"b" , error=insufficient_scope')).toEqual([{ scheme: 'bearer', params: { realm: 'a"b', error: 'insufficient_scope' } }]);
  });

  it('parses several challenges in one header and in several headers', () => {
    const one = parseChallenges('Basic realm="x", Bearer realm="https://t/token",service="s"');
    expect(one.map((c) => c.scheme)).toEqual(['basic', 'bearer']);
    expect(one[1]?.params).toEqual({ realm: 'https://t/token', service: 's' });
    expect(parseChallenges(['Basic realm="x"', 'Bearer realm="y"']).map((c) => c.params['realm'])).toEqual(['x', 'y']);
  });

  it('parses commas inside quoted scopes and returns nothing for an absent header', () => {
    expect(parseChallenges('Bearer scope="repository:a:pull,push",realm="r"')[0]?.params).toEqual({ scope: 'repository:a:pull,push', realm: 'r' });
    expect(parseChallenges(undefined)).toEqual([]);
    expect(parseChallenges('')).toEqual([]);
  });
});
