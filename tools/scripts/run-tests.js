#!/usr/bin/env node
// `npm test`: typecheck, lint and every test of every project through nx, then one closing line with
// the totals of all jest runs ("tests: N passed, N failed, N skipped"). Exits with nx's status.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const results = path.join(root, 'tmp', 'test-results');
fs.rmSync(results, { recursive: true, force: true });

const nx = path.join(root, 'node_modules', '.bin', 'nx');
const args = ['run-many', '-t', 'typecheck', 'lint', 'test', '--outputStyle=stream', '--parallel=2', '--skip-nx-cache', ...process.argv.slice(2)];
const r = spawnSync(nx, args, {
  cwd: root,
  stdio: 'inherit',
  env: { NX_DAEMON: 'false', NX_TUI: 'false', NX_NO_CLOUD: 'true', ...process.env },
});

let passed = 0;
let failed = 0;
let skipped = 0;
const lines = [];
if (fs.existsSync(results)) {
  for (const f of fs.readdirSync(results).sort()) {
    const t = JSON.parse(fs.readFileSync(path.join(results, f), 'utf8'));
    passed += t.passed;
    failed += t.failed;
    skipped += t.skipped;
    lines.push(`  ${t.project.padEnd(14)} ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`);
  }
}
const status = r.status === null ? 1 : r.status;
if (status !== 0 && failed === 0) failed = 1; // typecheck or lint failed, or a jest run crashed
process.stdout.write(`\n${lines.join('\n')}\n`);
process.stdout.write(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
process.exit(status);
