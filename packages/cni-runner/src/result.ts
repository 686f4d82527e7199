/**
 * Results: validated for the version they claim (0.3.0 to 1.1.0) and converted between versions.
 * 0.3.x and 0.4.0 carry `version` ("4"/"6") on each IP; 1.0.0 dropped it; otherwise the shapes agree.
 * Every field is checked and a problem names its JSON path.
 */
import { invalidDocument, type FieldIssue } from '@podkit/errdefs';
import type { CniResult } from './types';
import { isSupportedVersion, versionAtLeast } from './version';

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const CIDR4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const IP4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function isIp(s: string): 4 | 6 | 0 {
  const m = IP4.exec(s);
  if (m) return m.slice(1, 5).every((o) => Number(o) <= 255) ? 4 : 0;
  // IPv6: let the URL parser decide; it accepts exactly the textual forms.
  if (!s.includes(':')) return 0;
  try {
    new URL(`http://[${s}]/`);
    return 6;
  } catch {
    return 0;
  }
}

function isCidr(s: string): 4 | 6 | 0 {
  const slash = s.lastIndexOf('/');
  if (slash < 0) return 0;
  const fam = isIp(s.slice(0, slash));
  const bits = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits)) return 0;
  if (fam === 4 && CIDR4.test(s) && Number(bits) <= 32) return 4;
  if (fam === 6 && Number(bits) <= 128) return 6;
  return 0;
}

function str(issues: FieldIssue[], o: Record<string, unknown>, key: string, at: string, required: boolean): void {
  const v = o[key];
  if (v === undefined) {
    if (required) issues.push({ path: `${at}/${key}`, reason: 'is required' });
  } else if (typeof v !== 'string') issues.push({ path: `${at}/${key}`, reason: 'must be a string' });
}

function int(issues: FieldIssue[], o: Record<string, unknown>, key: string, at: string, min = 0): void {
  const v = o[key];
  if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min)) {
    issues.push({ path: `${at}/${key}`, reason: `must be an integer >= ${min}` });
  }
}

function strArray(issues: FieldIssue[], o: Record<string, unknown>, key: string, at: string): void {
  const v = o[key];
  if (v === undefined) return;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) issues.push({ path: `${at}/${key}`, reason: 'must be an array of strings' });
}

/**
 * Validates a result document for `expectVersion` (the version the plugin was asked to speak) and
 * returns it converted to 1.1.0. Throws InvalidArgument listing every problem with its path.
 */
export function parseResult(doc: unknown, expectVersion: string, what = 'CNI result'): CniResult {
  const issues: FieldIssue[] = [];
  if (!isObj(doc)) throw invalidDocument(what, [{ path: '/', reason: 'must be a JSON object' }]);
  const v = doc['cniVersion'];
  if (typeof v !== 'string') issues.push({ path: '/cniVersion', reason: 'is required and must be a string' });
  else if (!isSupportedVersion(v)) issues.push({ path: '/cniVersion', reason: `"${v}" is not a supported result version (0.3.0 to 1.1.0)` });
  else if (v !== expectVersion) issues.push({ path: '/cniVersion', reason: `is "${v}", but the plugin was called with "${expectVersion}"` });
  const legacy = typeof v === 'string' && isSupportedVersion(v) && !versionAtLeast(v, '1.0.0');

  const ifaces = doc['interfaces'];
  let nIfaces = 0;
  if (ifaces !== undefined) {
    if (!Array.isArray(ifaces)) issues.push({ path: '/interfaces', reason: 'must be an array' });
    else {
      nIfaces = ifaces.length;
      ifaces.forEach((it, i) => {
        const at = `/interfaces/${i}`;
        if (!isObj(it)) return void issues.push({ path: at, reason: 'must be an object' });
        str(issues, it, 'name', at, true);
        str(issues, it, 'mac', at, false);
        str(issues, it, 'sandbox', at, false);
        str(issues, it, 'socketPath', at, false);
        str(issues, it, 'pciID', at, false);
        int(issues, it, 'mtu', at);
      });
    }
  }
  const ips = doc['ips'];
  if (ips !== undefined) {
    if (!Array.isArray(ips)) issues.push({ path: '/ips', reason: 'must be an array' });
    else
      ips.forEach((ip, i) => {
        const at = `/ips/${i}`;
        if (!isObj(ip)) return void issues.push({ path: at, reason: 'must be an object' });
        const fam = typeof ip['address'] === 'string' ? isCidr(ip['address']) : 0;
        if (typeof ip['address'] !== 'string') issues.push({ path: `${at}/address`, reason: 'is required and must be a string' });
        else if (!fam) issues.push({ path: `${at}/address`, reason: `"${ip['address']}" is not an address in CIDR notation` });
        if (ip['gateway'] !== undefined && (typeof ip['gateway'] !== 'string' || !isIp(ip['gateway']))) {
          issues.push({ path: `${at}/gateway`, reason: 'must be an IP address' });
        }
        const idx = ip['interface'];
        if (idx !== undefined && (typeof idx !== 'number' || !Number.isInteger(idx) || idx < 0 || idx >= nIfaces)) {
          issues.push({ path: `${at}/interface`, reason: `must index /interfaces (0 to ${nIfaces - 1})` });
        }
        if (legacy && ip['version'] !== undefined) {
          if (ip['version'] !== '4' && ip['version'] !== '6') issues.push({ path: `${at}/version`, reason: 'must be "4" or "6"' });
          else if (fam && ip['version'] !== String(fam)) issues.push({ path: `${at}/version`, reason: `is "${ip['version']}" but the address is IPv${fam}` });
        }
      });
  }
  const routes = doc['routes'];
  if (routes !== undefined) {
    if (!Array.isArray(routes)) issues.push({ path: '/routes', reason: 'must be an array' });
    else
      routes.forEach((r, i) => {
        const at = `/routes/${i}`;
        if (!isObj(r)) return void issues.push({ path: at, reason: 'must be an object' });
        if (typeof r['dst'] !== 'string' || !isCidr(r['dst'])) issues.push({ path: `${at}/dst`, reason: 'is required and must be a CIDR' });
        if (r['gw'] !== undefined && (typeof r['gw'] !== 'string' || !isIp(r['gw']))) issues.push({ path: `${at}/gw`, reason: 'must be an IP address' });
        for (const k of ['mtu', 'advmss', 'priority', 'table', 'scope']) int(issues, r, k, at);
      });
  }
  const dns = doc['dns'];
  if (dns !== undefined) {
    if (!isObj(dns)) issues.push({ path: '/dns', reason: 'must be an object' });
    else {
      strArray(issues, dns, 'nameservers', '/dns');
      str(issues, dns, 'domain', '/dns', false);
      strArray(issues, dns, 'search', '/dns');
      strArray(issues, dns, 'options', '/dns');
    }
  }
  if (issues.length > 0) throw invalidDocument(what, issues);
  return convertResult(doc as unknown as CniResult, '1.1.0');
}

/** Converts a valid result to another version (0.3.0 to 1.1.0); a fresh object, the input is not changed. */
export function convertResult(result: CniResult, toVersion: string): CniResult {
  const out = JSON.parse(JSON.stringify(result)) as CniResult & { ips?: Array<Record<string, unknown>> };
  out.cniVersion = toVersion;
  const legacy = !versionAtLeast(toVersion, '1.0.0');
  for (const ip of out.ips ?? []) {
    if (legacy) ip['version'] = String(isCidr(String(ip['address'])) || 4);
    else delete ip['version'];
  }
  return out;
}
