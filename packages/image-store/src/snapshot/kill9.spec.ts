/**
 * kill -9 at any instant of prepare, commit, importLayer (a pull's unpack), view or remove leaves a store
 * that the next open repairs: no half snapshot, no directory without a record, no record without its
 * directory, no parent missing, no extraction of a dead process left. Runs against the built package
 * (a child process loads dist/), killing it at random moments, and records what each repair did.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OverlaySnapshotter } from './overlay';

const built = path.resolve(__dirname, '..', '..', 'dist', 'snapshot', 'overlay.js');
const crasher = path.resolve(__dirname, '..', 'test-support', 'snapshot-crasher.js');
const d = fs.existsSync(built) ? describe : describe.skip;
if (!fs.existsSync(built)) console.warn(`kill9.spec: skipped, ${built} is not built (run the image-store build first)`);

async function runAndKill(root: string, afterSteps: number): Promise<string> {
  const child = spawn(process.execPath, [crasher, root, built], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
  await new Promise<void>((resolve) => {
    let seen = 0;
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      seen = out.split('\n').filter((l) => l.startsWith('STEP ')).length;
      if (seen >= afterSteps) {
        // Let the step start its syscalls, then kill it mid-way (a varying number of event-loop turns).
        let turns = afterSteps % 7;
        const go = (): void => {
          if (turns-- <= 0) {
            child.kill('SIGKILL');
            resolve();
          } else setImmediate(go);
        };
        go();
      }
    });
    child.on('exit', () => resolve());
  });
  const sig = await exited;
  if (sig !== 'SIGKILL') throw new Error(`crasher ended without SIGKILL: ${err}`);
  const steps = out.split('\n').filter((l) => l.startsWith('STEP '));
  return steps[steps.length - 1]!.slice(5);
}

function checkInvariants(root: string): void {
  // No metadata yet (killed before the first write) is a valid, empty store.
  const file = path.join(root, 'metadata.json');
  const meta = (fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : { snapshots: {} }) as {
    snapshots: Record<string, { id: number; kind: string; parent?: string }>;
  };
  const ids = new Set<string>();
  for (const [key, r] of Object.entries(meta.snapshots)) {
    expect([key, fs.existsSync(path.join(root, 'snapshots', String(r.id), 'fs'))]).toEqual([key, true]);
    if (r.parent !== undefined) expect([key, meta.snapshots[r.parent]?.kind]).toEqual([key, 'committed']);
    expect(key.startsWith('extract-')).toBe(false); // the extracting process is dead
    ids.add(String(r.id));
  }
  for (const dir of fs.readdirSync(path.join(root, 'snapshots'))) expect([dir, ids.has(dir)]).toEqual([dir, true]);
  const staging = path.join(root, 'staging');
  expect(fs.existsSync(staging) ? fs.readdirSync(staging) : []).toEqual([]);
  expect(fs.readdirSync(root).filter((n) => n.startsWith('metadata.lock'))).toEqual([]);
}

d('snapshotter kill -9 matrix', () => {
  let root: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-snap-kill9-'));
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('repairs after a kill at every step, 36 times', async () => {
    const matrix = new Map<string, { kills: number; droppedRecords: number; removedDirs: number }>();
    for (let i = 0; i < 36; i++) {
      const step = await runAndKill(root, 1 + (i % 6) + 6 * (i % 2));
      const s = await OverlaySnapshotter.open(root);
      checkInvariants(root);
      const row = matrix.get(step) ?? { kills: 0, droppedRecords: 0, removedDirs: 0 };
      row.kills++;
      row.droppedRecords += s.repaired.droppedRecords.length;
      row.removedDirs += s.repaired.removedDirs.length;
      matrix.set(step, row);
      // The store stays usable after each repair.
      await s.prepare(`probe-${i}`);
      await s.remove(`probe-${i}`);
    }
    const table = [...matrix.entries()].map(([step, r]) => `${step.padEnd(18)} kills=${r.kills} dropped-records=${r.droppedRecords} removed-dirs=${r.removedDirs}`);
    console.log(`kill -9 matrix (step in progress → what repair did):\n${table.join('\n')}`);
    expect(matrix.size).toBeGreaterThanOrEqual(5);
  }, 120_000);
});
