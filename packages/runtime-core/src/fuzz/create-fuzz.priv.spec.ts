/**
 * Fuzzing the real paths (needs root): mutated config.json documents through Runtime.create with a
 * real busybox rootfs and podkit-init, then delete --force; mutated process.json documents through
 * Runtime.exec into a running container. Whatever the outcome (created, refused by validation,
 * failed in the helper), nothing may stay behind: no state folder, no cgroup, no mount under the
 * bundle in this (the host's) mount namespace, no process.
 *
 * For the safety of the shared machine some fields are pinned after mutating: cgroupsPath stays a
 * fresh relative path (beneath this process's cgroup), rootfsPropagation is dropped (a shared root
 * would propagate the container's mounts to the host), the namespaces list keeps a private mount
 * and network namespace, and the process runs `true` whatever its args became.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import type { Spec } from '@podkit/oci-spec';
import { cgroupPaths, hierarchies } from '../cgroups/v1';
import { Runtime } from '../container/runtime';
import { makeBundle, type TestBundle } from '../test-support/bundle';
import { assertNamedRejection, baseConfig, baseProcess, mutated } from './mutate';

const root = process.getuid?.() === 0 && fs.existsSync('/bin/busybox');
const describeRoot = root ? describe : describe.skip;
if (!root) console.warn('create-fuzz.priv.spec: skipped, needs root and /bin/busybox');

/** Our own children that are not zombies-to-be-reaped-by-jest: must be none after each delete. */
function ownChildren(): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'latin1');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[1]) === process.pid) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}

describeRoot('fuzz: mutated documents through the real create, exec and delete paths', () => {
  let bundle: TestBundle;
  let stateRoot: string;
  let runtime: Runtime;
  let seq = 0;

  beforeAll(() => {
    bundle = makeBundle('podkit-fuzz-');
    fs.mkdirSync(path.join(bundle.dir, 'data'));
    stateRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-fuzz-state-'));
    runtime = new Runtime({ root: stateRoot });
  });
  afterAll(() => {
    fs.rmSync(stateRoot, { recursive: true, force: true });
    bundle.cleanup();
  });

  function pin(doc: Spec, cgroupsPath: string): void {
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return;
    if (doc.process && typeof doc.process === 'object' && !Array.isArray(doc.process)) doc.process.args = ['true'];
    if (!doc.linux || typeof doc.linux !== 'object' || Array.isArray(doc.linux)) doc.linux = {};
    doc.linux.cgroupsPath = cgroupsPath;
    delete doc.linux.rootfsPropagation;
    const ns = Array.isArray(doc.linux.namespaces) ? doc.linux.namespaces.filter((n) => n && typeof n === 'object' && n.type !== 'mount' && n.type !== 'network') : [];
    doc.linux.namespaces = [...ns, { type: 'mount' }, { type: 'network' }];
  }

  it('120 mutated configs: created and deleted, or refused naming a field; nothing left behind', async () => {
    const hs = hierarchies();
    const outcomes = { created: 0, refused: 0, failedInHelper: 0 };
    const docs = fc.sample(
      mutated(() => JSON.parse(JSON.stringify(baseConfig()))),
      { numRuns: 120, seed: 424242 },
    );
    for (const doc of docs) {
      const cgroupsPath = `podkit-fuzz-${process.pid}-${++seq}`;
      const id = `fuzz-${process.pid}-${seq}`;
      pin(doc as Spec, cgroupsPath);
      fs.writeFileSync(path.join(bundle.dir, 'config.json'), JSON.stringify(doc));
      const devnull = fs.openSync('/dev/null', 'r+');
      try {
        await runtime.create(id, { bundle: bundle.dir, stdio: { stdin: devnull, stdout: devnull, stderr: devnull } });
        outcomes.created++;
        await runtime.delete(id, { force: true });
      } catch (err) {
        if ((err as { details?: { phase?: string } }).details?.phase !== undefined) outcomes.failedInHelper++;
        else {
          assertNamedRejection(err);
          outcomes.refused++;
        }
      } finally {
        fs.closeSync(devnull);
      }
      // Nothing left behind, whatever happened.
      expect(fs.readdirSync(stateRoot)).toEqual([]);
      for (const dir of Object.values(cgroupPaths(cgroupsPath, id, hs))) expect(fs.existsSync(dir)).toBe(false);
      expect(fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(bundle.dir)).toBe(false);
      expect(ownChildren()).toEqual([]);
    }
    expect(outcomes.created).toBeGreaterThan(10);
    expect(outcomes.refused).toBeGreaterThan(5);
  });

  it('60 mutated process.json documents through the real exec path: run or refused; no process left', async () => {
    const id = `fuzz-${process.pid}-exec`;
    const spec = baseConfig();
    spec.process = { ...spec.process, args: ['sleep', '1000'] } as Spec['process'];
    spec.linux = { ...spec.linux, cgroupsPath: `podkit-fuzz-${process.pid}-exec`, sysctl: {} };
    delete spec.linux.resources?.pids;
    spec.mounts = (spec.mounts ?? []).filter((m) => m.destination !== '/data');
    delete spec.linux.devices;
    fs.writeFileSync(path.join(bundle.dir, 'config.json'), JSON.stringify(spec));
    const devnull = fs.openSync('/dev/null', 'r+');
    const outcomes = { ran: 0, refused: 0, failedInHelper: 0 };
    try {
      await runtime.create(id, { bundle: bundle.dir, stdio: { stdin: devnull, stdout: devnull, stderr: devnull } });
      await runtime.start(id);
      const docs = fc.sample(mutated(baseProcess), { numRuns: 60, seed: 777 });
      for (const doc of docs) {
        // Whatever the mutation did to args: a short command, so a run ends by itself.
        if (doc !== null && typeof doc === 'object' && !Array.isArray(doc)) doc['args'] = ['true'];
        try {
          const h = await runtime.exec(id, { process: doc, stdio: { stdin: devnull, stdout: devnull, stderr: devnull } });
          await h.wait();
          outcomes.ran++;
        } catch (err) {
          if ((err as { details?: { phase?: string } }).details?.phase !== undefined) outcomes.failedInHelper++;
          else {
            assertNamedRejection(err);
            outcomes.refused++;
          }
        }
        // Only the container's init is left in its cgroup, and among our children.
        expect(runtime.pids(id)).toEqual([runtime.state(id).pid]);
        expect(ownChildren()).toEqual([runtime.state(id).pid]);
      }
    } finally {
      await runtime.delete(id, { force: true });
      fs.closeSync(devnull);
    }
    expect(ownChildren()).toEqual([]);
    expect(fs.readdirSync(stateRoot)).toEqual([]);
    expect(outcomes.ran).toBeGreaterThan(5);
    expect(outcomes.refused).toBeGreaterThan(5);
  });
});
