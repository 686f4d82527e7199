// A child process for the kill -9 suite: runs snapshotter steps in a loop against a root, printing the
// step it is about to do ("STEP <name>") before each, until the parent kills it with SIGKILL.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { OverlaySnapshotter, EXTRACT_LABEL } = require(process.argv[3]);

async function main() {
  const root = process.argv[2];
  const s = await OverlaySnapshotter.open(root);
  const say = (step) => process.stdout.write(`STEP ${step}\n`);
  for (let i = 0; ; i++) {
    const tag = `${process.pid}-${i}`;
    say('import-layer');
    const dir = await s.stagingDir();
    for (let f = 0; f < 20; f++) fs.writeFileSync(path.join(dir, `f${f}`), 'x'.repeat(1000));
    const base = `base-${tag}`;
    await s.importLayer(base, undefined, dir);
    say('prepare-extract');
    await s.prepare(`extract-${tag}`, base, { labels: { [EXTRACT_LABEL]: String(process.pid) } });
    const up = await s.upperDir(`extract-${tag}`);
    for (let f = 0; f < 20; f++) fs.writeFileSync(path.join(up, `g${f}`), 'y'.repeat(1000));
    say('commit');
    await s.commit(`layer-${tag}`, `extract-${tag}`);
    say('prepare-container');
    await s.prepare(`ctr-${tag}`, `layer-${tag}`);
    say('view');
    await s.view(`view-${tag}`, `layer-${tag}`);
    say('remove');
    await s.remove(`view-${tag}`);
    await s.remove(`ctr-${tag}`);
    await s.remove(`layer-${tag}`);
    await s.remove(base);
  }
}
main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
