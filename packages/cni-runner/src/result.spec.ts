import { isInvalidArgument } from '@podkit/errdefs';
import { convertResult, parseResult } from './result';

describe('CNI results', () => {
  const v1 = {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'eth0', mac: '02:00:00:00:00:01', sandbox: '/run/netns/x', mtu: 1500 }],
    ips: [
      { address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 0 },
      { address: 'fd00::5/64', gateway: 'fd00::1', interface: 0 },
    ],
    routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }, { dst: '::/0' }],
    dns: { nameservers: ['10.1.0.1'], search: ['example'] },
  };

  it('parses each supported version and converts to 1.1.0', () => {
    for (const v of ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']) {
      const doc = convertResult(v1, v);
      const r = parseResult(doc, v);
      expect(r.cniVersion).toBe('1.1.0');
      expect(r.ips).toEqual(v1.ips);
    }
  });

  it('adds and drops the per-IP version field when converting', () => {
    const old = convertResult(v1, '0.4.0') as unknown as { ips: Array<{ version: string }> };
    expect(old.ips.map((i) => i.version)).toEqual(['4', '6']);
    const back = convertResult(old as never, '1.0.0') as unknown as { ips: Array<Record<string, unknown>> };
    expect(back.ips.every((i) => !('version' in i))).toBe(true);
  });

  it('names every bad field', () => {
    const bad = {
      cniVersion: '0.4.0',
      interfaces: [{ mac: 1 }],
      ips: [{ address: '10.0.0.1', version: '6', interface: 4 }, { address: '10.0.0.1/24', version: '6' }],
      routes: [{ dst: 'x', mtu: -1 }],
      dns: { nameservers: 'x' },
    };
    let err: unknown;
    try {
      parseResult(bad, '0.4.0');
    } catch (e) {
      err = e;
    }
    expect(isInvalidArgument(err)).toBe(true);
    const paths = (err as { details: { issues: Array<{ path: string }> } }).details.issues.map((i) => i.path);
    expect(paths).toEqual([
      '/interfaces/0/name',
      '/interfaces/0/mac',
      '/ips/0/address',
      '/ips/0/interface',
      '/ips/1/version',
      '/routes/0/dst',
      '/routes/0/mtu',
      '/dns/nameservers',
    ]);
  });

  it('rejects unsupported and mismatched versions', () => {
    expect(() => parseResult({ cniVersion: '0.2.0', ip4: {} }, '0.2.0')).toThrow(/\/cniVersion: "0\.2\.0" is not a supported result version/);
    expect(() => parseResult({ cniVersion: '1.0.0' }, '1.1.0')).toThrow(/but the plugin was called with "1\.1\.0"/);
    expect(() => parseResult([], '1.0.0')).toThrow(/must be a JSON object/);
  });
});
