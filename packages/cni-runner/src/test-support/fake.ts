/** Helpers for tests that drive the fake plugin (src/test-support/fake-cni.js). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const FAKE_PLUGIN = path.join(__dirname, 'fake-cni.js');

export interface FakeCall {
  type: string;
  env: Record<string, string>;
  stdin: Record<string, unknown>;
}

/** A temp folder with fake plugins under the given type names, and the calls they record. */
export class FakeBin {
  readonly dir: string;

  constructor(types: string[]) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-fakecni-'));
    for (const t of types) fs.symlinkSync(FAKE_PLUGIN, path.join(this.dir, t));
  }

  behave(type: string, behaviour: Record<string, unknown>): void {
    fs.writeFileSync(path.join(this.dir, `${type}.json`), JSON.stringify(behaviour));
  }

  calls(): FakeCall[] {
    const f = path.join(this.dir, 'calls.jsonl');
    if (!fs.existsSync(f)) return [];
    return fs
      .readFileSync(f, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as FakeCall);
  }

  reset(): void {
    fs.rmSync(path.join(this.dir, 'calls.jsonl'), { force: true });
    for (const f of fs.readdirSync(this.dir)) if (f.endsWith('.json')) fs.rmSync(path.join(this.dir, f));
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
