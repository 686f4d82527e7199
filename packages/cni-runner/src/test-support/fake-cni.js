#!/usr/bin/env node
// A fake CNI plugin for the unit tests. Symlink it into a bin folder under any type name. It appends
// one JSON line per call to <bin>/calls.jsonl ({type, env: CNI_*, stdin}) and behaves as told by the
// optional <bin>/<type>.json: {"supportedVersions": [...], "<COMMAND>" | "*": {"error": {code,msg,details},
// "exit": n, "stdout": "raw text", "hang": true, "crash": true, "result": {...}}}.
// ADD answers, by default, the prevResult (or an empty result) plus one interface "<type>:<ifname>" and,
// when there is no IP yet, 10.1.0.2/24 on it, in the version it was called with.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const self = process.argv[1];
const dir = path.dirname(self);
const type = path.basename(self);
const cmd = process.env.CNI_COMMAND || '';
let behaviour = {};
try {
  behaviour = JSON.parse(fs.readFileSync(path.join(dir, `${type}.json`), 'utf8'));
} catch {
  /* default behaviour */
}
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', () => {
  const raw = Buffer.concat(chunks).toString('utf8');
  let conf = {};
  try {
    conf = JSON.parse(raw);
  } catch {
    conf = { unparsable: raw };
  }
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('CNI_')) env[k] = v;
  fs.appendFileSync(path.join(dir, 'calls.jsonl'), JSON.stringify({ type, env, stdin: conf }) + '\n');
  const b = behaviour[cmd] || behaviour['*'] || {};
  if (b.hang) {
    setInterval(() => {}, 1000);
    return;
  }
  if (b.crash) process.kill(process.pid, 'SIGSEGV');
  if (b.stdout !== undefined) {
    process.stdout.write(b.stdout);
    process.exitCode = b.exit || 0;
    return;
  }
  if (b.error) {
    process.stdout.write(JSON.stringify({ cniVersion: conf.cniVersion, ...b.error }));
    process.exitCode = b.exit || 1;
    return;
  }
  if (cmd === 'VERSION') {
    const all = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];
    process.stdout.write(JSON.stringify({ cniVersion: conf.cniVersion, supportedVersions: behaviour.supportedVersions || all }));
    return;
  }
  if (cmd !== 'ADD') return;
  const v = conf.cniVersion;
  const legacy = !/^1\./.test(v);
  if (b.result) {
    process.stdout.write(JSON.stringify({ cniVersion: v, ...b.result }));
    return;
  }
  const r = JSON.parse(JSON.stringify(conf.prevResult || { interfaces: [], ips: [] }));
  r.cniVersion = v;
  r.interfaces = r.interfaces || [];
  r.interfaces.push({ name: `${type}:${process.env.CNI_IFNAME}`, sandbox: process.env.CNI_NETNS });
  r.ips = r.ips || [];
  if (r.ips.length === 0) r.ips.push({ address: '10.1.0.2/24', gateway: '10.1.0.1', interface: r.interfaces.length - 1 });
  for (const ip of r.ips) {
    if (legacy) ip.version = '4';
    else delete ip.version;
  }
  process.stdout.write(JSON.stringify(r));
});
