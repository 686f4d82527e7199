/**
 * Fuzzing the boundary of the runtime without root: thousands of generated and mutated config.json
 * and process.json documents through the validator and the plan builder (what `create` and `exec` do
 * before anything is created). Every document is either accepted with a plan that keeps the safety
 * invariants, or rejected with an InvalidArgument/Unimplemented error naming a field path; nothing
 * else may come out (no TypeError, RangeError, or a crash from deep inside).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { validateProcess, validateSpec } from '@podkit/oci-spec';
import { buildCreatePlan, buildExecPlan, type CreatePlanContext } from '../plan/build';
import { loadSpec } from '../container/spec-file';
import { assertNamedRejection, assertPlanInvariants, baseConfig, baseProcess, leaves, mutated, NASTY, replaced } from './mutate';

const ctx: CreatePlanContext = {
  bundle: '/run/podkit-fuzz/bundle',
  execFifo: '/run/podkit-fuzz/exec.fifo',
  cgroupMounts: [{ name: 'memory', source: '/sys/fs/cgroup/memory/podkit-fuzz' }],
};

type Outcome = 'accepted' | 'rejected';

/** What `create` does with a parsed document before touching the system. */
function throughCreate(doc: unknown): Outcome {
  try {
    const { plan } = buildCreatePlan(validateSpec(doc), ctx);
    assertPlanInvariants(plan);
    return 'accepted';
  } catch (err) {
    assertNamedRejection(err);
    return 'rejected';
  }
}

/** What `exec --process` does with a parsed process.json. */
function throughExec(doc: unknown): Outcome {
  try {
    const { plan } = buildExecPlan(validateProcess(doc), 4242, ['pid', 'network', 'ipc', 'uts', 'mount']);
    assertPlanInvariants(plan);
    return 'accepted';
  } catch (err) {
    assertNamedRejection(err);
    return 'rejected';
  }
}

/** Counts outcomes, so a test can show it reached both sides of the boundary. */
function tally(f: (doc: unknown) => Outcome): { run: (doc: unknown) => void; seen: Record<Outcome, number> } {
  const seen: Record<Outcome, number> = { accepted: 0, rejected: 0 };
  return { run: (doc) => void seen[f(doc)]++, seen };
}

describe('fuzz: config.json and process.json through validation and planning', () => {
  it('the base documents are accepted (the mutations start from something valid)', () => {
    expect(throughCreate(baseConfig())).toBe('accepted');
    expect(throughExec(baseProcess())).toBe('accepted');
  });

  it('3000 mutated config.json documents: accepted with a safe plan, or rejected naming a field', () => {
    const t = tally(throughCreate);
    fc.assert(
      fc.property(
        mutated(() => JSON.parse(JSON.stringify(baseConfig()))),
        (doc) => {
          t.run(doc);
        },
      ),
      { numRuns: 3000, seed: 20261129 },
    );
    expect(t.seen.accepted).toBeGreaterThan(100);
    expect(t.seen.rejected).toBeGreaterThan(100);
  });

  it('every hostile value at every field of config.json and process.json (one at a time)', () => {
    const config = JSON.parse(JSON.stringify(baseConfig()));
    const proc = baseProcess();
    let n = 0;
    for (const v of NASTY) {
      for (const at of leaves(config)) {
        throughCreate(replaced(config, at, v));
        n++;
      }
      for (const at of leaves(proc)) {
        throughExec(replaced(proc, at, v));
        n++;
      }
    }
    expect(n).toBeGreaterThan(3000);
  });

  it('1000 arbitrary JSON documents as config.json', () => {
    const t = tally(throughCreate);
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (doc) => {
        t.run(doc);
      }),
      { numRuns: 1000, seed: 7 },
    );
    expect(t.seen.rejected).toBe(1000);
  });

  it('2000 mutated process.json documents (exec --process)', () => {
    const t = tally(throughExec);
    fc.assert(
      fc.property(mutated(baseProcess), (doc) => {
        t.run(doc);
      }),
      { numRuns: 2000, seed: 99 },
    );
    expect(t.seen.accepted).toBeGreaterThan(100);
    expect(t.seen.rejected).toBeGreaterThan(100);
  });

  it('500 arbitrary JSON documents as process.json', () => {
    const t = tally(throughExec);
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (doc) => {
        t.run(doc);
      }),
      { numRuns: 500, seed: 11 },
    );
    expect(t.seen.rejected).toBe(500);
  });

  it('300 damaged config.json files (truncated, spliced bytes) through loadSpec', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-fuzz-'));
    try {
      const text = JSON.stringify(baseConfig(), null, 2);
      fc.assert(
        fc.property(fc.nat({ max: text.length }), fc.nat({ max: text.length }), fc.string({ maxLength: 6 }), (a, b, junk) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          fs.writeFileSync(path.join(dir, 'config.json'), text.slice(0, lo) + junk + text.slice(hi));
          try {
            const { plan } = buildCreatePlan(loadSpec(dir), { ...ctx, bundle: dir });
            assertPlanInvariants(plan);
          } catch (err) {
            assertNamedRejection(err);
          }
        }),
        { numRuns: 300, seed: 5 },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
