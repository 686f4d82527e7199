/**
 * Benchmark of @podkit/oci-spec (built package): import cost and validation throughput.
 *
 *   npx tsc -p packages/oci-spec/tsconfig.lib.json && node packages/oci-spec/scripts/generate-validators.js
 *   npx tsc -p tools/tsconfig.lib.json && node tools/dist/bench/oci-spec.js [--rounds 15] [--json]
 *
 * Import cost: wall time of `node -e 0` against `node -e "require('@podkit/oci-spec')"` (child processes,
 * interleaved), the in-process time of the require itself, and the first validateSpec() of a process with
 * the build-time (standalone) validators and with ajv compiling at run time.
 * Throughput: documents per second for the runc spec config (Debian's `runc spec`, the package fixture):
 * validateSpec() (the public API), the bare generated ajv validator, ajv compiled at run time, and the peer,
 * TypeBox's own TypeCompiler over the same schema. Prints medians and ratios, and the RATIO lines of
 * tools/src/bench/run-all.ts (not with --json). Not a test.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

interface OciSpec {
  validateSpec(doc: unknown): unknown;
  checkSpec(doc: unknown): { ok: boolean };
  validateImageManifest(doc: unknown): unknown;
  schemaOf(id: string): object;
  defaultSpec(): object;
}
interface ValidateModule {
  validatorFor(id: string): (doc: unknown) => boolean;
  _useRuntimeCompiler(): void;
}

const args = process.argv.slice(2);
const ROUNDS = Number(args[args.indexOf('--rounds') + 1]) || 15;
const JSON_OUT = args.includes('--json');

const pkgDir = dirname(require.resolve('@podkit/oci-spec/package.json'));
const entry = require.resolve('@podkit/oci-spec');
const runtimeEntry = require.resolve('@podkit/oci-spec/runtime-spec');
const validatePath = join(pkgDir, 'dist', 'validate.js');

function median(xs: readonly number[] | undefined): number {
  const s = [...(xs ?? [])].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Runs `node -e code` and returns [wall ms, the numbers the child printed as a JSON array]. */
function child(code: string): [number, number[]] {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  const wall = ms(t);
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return [wall, r.stdout.trim() ? (JSON.parse(r.stdout) as number[]) : []];
}

function importCost() {
  const E = JSON.stringify(entry);
  const RS = JSON.stringify(runtimeEntry);
  const ERR = JSON.stringify(require.resolve('@podkit/errdefs'));
  const V = JSON.stringify(validatePath);
  const now = 'process.hrtime.bigint()';
  const variants = {
    baseline: 'void 0',
    require: `const t=${now};require(${E});console.log(JSON.stringify([Number(${now}-t)/1e6]))`,
    // The smallest workspace package, for scale: the first require of a process also warms up the loader.
    requireErrdefs: `const t=${now};require(${ERR});console.log(JSON.stringify([Number(${now}-t)/1e6]))`,
    firstValidateGenerated: `const m=require(${E});const s=m.defaultSpec();const t=${now};m.validateSpec(s);console.log(JSON.stringify([Number(${now}-t)/1e6]))`,
    // What a runtime CLI's create does: the runtime-spec entry point alone, then one config.json.
    runtimeSpecValidate: `const t=${now};const m=require(${RS});m.validateSpec(m.defaultSpec());console.log(JSON.stringify([Number(${now}-t)/1e6]))`,
    firstValidateRuntimeAjv: `require(${V})._useRuntimeCompiler();const m=require(${E});const s=m.defaultSpec();const t=${now};m.validateSpec(s);console.log(JSON.stringify([Number(${now}-t)/1e6]))`,
  };
  const wall: Record<string, number[]> = {};
  const inner: Record<string, number[]> = {};
  for (let i = 0; i < ROUNDS; i++) {
    for (const [name, code] of Object.entries(variants)) {
      const [w, out] = child(code);
      (wall[name] ??= []).push(w);
      if (out[0] !== undefined) (inner[name] ??= []).push(out[0]);
    }
  }
  return {
    nodeE0WallMs: median(wall['baseline']),
    requireWallMs: median(wall['require']),
    requireOverheadWallMs: median(wall['require']) - median(wall['baseline']),
    requireInProcessMs: median(inner['require']),
    requireErrdefsInProcessMs: median(inner['requireErrdefs']),
    firstValidateSpecGeneratedMs: median(inner['firstValidateGenerated']),
    runtimeSpecValidateWallMs: median(wall['runtimeSpecValidate']),
    runtimeSpecValidateInProcessMs: median(inner['runtimeSpecValidate']),
    firstValidateSpecRuntimeAjvMs: median(inner['firstValidateRuntimeAjv']),
  };
}

/**
 * Median documents per second of each candidate over ROUNDS rounds of about 100 ms each. The candidates
 * take turns within every round, so a busy machine slows them alike and the ratios stay meaningful.
 */
function throughput<K extends string>(candidates: Record<K, () => unknown>): Record<K, number> {
  const entries = Object.entries(candidates) as Array<[K, () => unknown]>;
  const plan = entries.map(([name, fn]) => {
    let n = 0;
    const cal = process.hrtime.bigint();
    while (ms(cal) < 50) {
      fn();
      n++;
    }
    return { name, fn, perRound: Math.max(1, n * 2), rates: [] as number[] };
  });
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of plan) {
      const t = process.hrtime.bigint();
      for (let i = 0; i < c.perRound; i++) c.fn();
      c.rates.push(c.perRound / (ms(t) / 1000));
    }
  }
  return Object.fromEntries(plan.map((c) => [c.name, median(c.rates)])) as Record<K, number>;
}

async function main(): Promise<void> {
  const oci = require(entry) as OciSpec;
  const engine = require(validatePath) as ValidateModule;
  const spec: unknown = JSON.parse(readFileSync(join(pkgDir, 'src', 'fixtures', 'runc-spec.json'), 'utf8'));
  const manifest: unknown = JSON.parse(readFileSync(join(pkgDir, 'src', 'fixtures', 'oci-manifest.json'), 'utf8'));
  const invalid = structuredClone(spec) as { linux: { namespaces: [unknown, unknown, { type: string }] }; process: { cwd?: string; rlimits: [{ hard: number }] } };
  invalid.linux.namespaces[2].type = 'foo';
  invalid.process.rlimits[0].hard = -1;
  delete invalid.process.cwd;
  oci.validateSpec(spec);
  if (oci.checkSpec(invalid).ok) throw new Error('the invalid sample validated');

  const generated = engine.validatorFor('spec');
  // The peer: TypeBox's TypeCompiler over the same schema. Our string enums are `Type.Unsafe` ({type, enum}),
  // which TypeBox checks through its type registry.
  const { TypeRegistry } = require('@sinclair/typebox') as typeof import('@sinclair/typebox');
  const { TypeCompiler } = require('@sinclair/typebox/compiler') as typeof import('@sinclair/typebox/compiler');
  TypeRegistry.Set<{ enum?: unknown[] }>('Unsafe', (schema, value) => schema.enum === undefined || schema.enum.includes(value));
  const typebox = TypeCompiler.Compile(oci.schemaOf('spec') as Parameters<typeof TypeCompiler.Compile>[0]);
  if (!typebox.Check(spec) || typebox.Check(invalid)) throw new Error('TypeBox disagrees with ajv on the samples');
  engine._useRuntimeCompiler();
  const runtimeAjv = engine.validatorFor('spec');
  if (generated === runtimeAjv) throw new Error('expected two distinct validators (is dist/generated built?)');

  const rates = throughput({
    validateSpec: () => oci.validateSpec(spec),
    generatedAjv: () => generated(spec),
    runtimeAjv: () => runtimeAjv(spec),
    typeboxCompiler: () => typebox.Check(spec),
    checkSpecInvalid: () => oci.checkSpec(invalid),
    validateImageManifest: () => oci.validateImageManifest(manifest),
  });
  const imports = importCost();

  if (JSON_OUT) {
    console.log(JSON.stringify({ node: process.version, rounds: ROUNDS, import: imports, docsPerSecond: rates }, null, 2));
    return;
  }
  const f = (x: number) => x.toFixed(1).padStart(8);
  const k = (x: number) => `${Math.round(x).toLocaleString('en-US').padStart(11)} docs/s`;
  console.log(`@podkit/oci-spec benchmark — node ${process.version}, ${ROUNDS} rounds, medians`);
  console.log('\nimport cost (built package)');
  console.log(`  node -e 0                                ${f(imports.nodeE0WallMs)} ms wall`);
  console.log(`  node -e "require('@podkit/oci-spec')"    ${f(imports.requireWallMs)} ms wall  (+${imports.requireOverheadWallMs.toFixed(1)} ms, ×${(imports.requireWallMs / imports.nodeE0WallMs).toFixed(2)})`);
  console.log(`  require() alone, in process              ${f(imports.requireInProcessMs)} ms`);
  console.log(`  (require('@podkit/errdefs'), in process  ${f(imports.requireErrdefsInProcessMs)} ms, for scale)`);
  console.log(`  first validateSpec, build-time validator ${f(imports.firstValidateSpecGeneratedMs)} ms`);
  console.log(`  first validateSpec, ajv compile at run   ${f(imports.firstValidateSpecRuntimeAjvMs)} ms  (×${(imports.firstValidateSpecRuntimeAjvMs / imports.firstValidateSpecGeneratedMs).toFixed(1)})`);
  console.log(`  require('…/runtime-spec') + validateSpec ${f(imports.runtimeSpecValidateInProcessMs)} ms in process, ${f(imports.runtimeSpecValidateWallMs)} ms wall`);
  console.log('\nvalidation throughput (runc spec config.json)');
  const peer = rates.typeboxCompiler;
  console.log(`  validateSpec() (public API)              ${k(rates.validateSpec)}  (×${(rates.validateSpec / peer).toFixed(2)} vs peer)`);
  console.log(`  generated ajv validator, bare            ${k(rates.generatedAjv)}  (×${(rates.generatedAjv / peer).toFixed(2)} vs peer)`);
  console.log(`  ajv compiled at run time, bare           ${k(rates.runtimeAjv)}  (×${(rates.runtimeAjv / peer).toFixed(2)} vs peer)`);
  console.log(`  peer: TypeBox TypeCompiler.Check         ${k(peer)}`);
  console.log(`  checkSpec() of an invalid config (3 issues) ${k(rates.checkSpecInvalid)}`);
  console.log(`  validateImageManifest() (umoci manifest) ${k(rates.validateImageManifest)}`);

  // For tools/src/bench/run-all.ts: podkit ÷ peer, lower is better (times; rates are inverted).
  const ratio = (name: string, value: number, target: string, what: string) => console.log(`RATIO oci-spec/${name} ${value.toFixed(3)} ${target} ${what}`);
  console.log('');
  ratio('require', imports.requireWallMs / imports.nodeE0WallMs, '<1.10', "wall time of node -e \"require('@podkit/oci-spec')\" ÷ node -e 0");
  ratio('runtime-spec-first-validate', imports.runtimeSpecValidateWallMs / imports.nodeE0WallMs, '<1.25', "wall time of node -e: require('@podkit/oci-spec/runtime-spec') + first validateSpec() ÷ node -e 0");
  ratio('first-validate-generated-vs-compile', imports.firstValidateSpecGeneratedMs / imports.firstValidateSpecRuntimeAjvMs, '<0.25', 'first validateSpec() of a process: build-time validator ÷ ajv compiling at run time');
  ratio('validate-vs-typebox', peer / rates.validateSpec, '<1.10', 'time per validateSpec() (schema + cross-field checks) ÷ TypeBox TypeCompiler Check, runc spec config');
  ratio('ajv-vs-typebox', peer / rates.generatedAjv, '<1', 'time per check of the bare generated ajv validator ÷ TypeBox TypeCompiler Check, runc spec config');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
