/**
 * Fuzzing support: fast-check arbitraries for config.json / process.json documents (mutations of a
 * realistic base document and arbitrary JSON), and the checks every outcome must pass:
 * - a rejection is a podkit InvalidArgument (or Unimplemented, or FailedPrecondition) that names a field path (a JSON
 *   pointer, '' being the whole document), never a
 *   TypeError/RangeError from deep inside the runtime;
 * - an accepted document gives a plan that is plain JSON (it crosses the plan channel) and keeps the
 *   runtime's safety invariants (absolute normalized mount targets, devices under /dev, namespaced
 *   sysctls only, known namespace types, capability and rlimit numbers in range).
 */
import * as path from 'node:path';
import fc from 'fast-check';
import { isFailedPrecondition, isInvalidArgument, isPodkitError, isUnimplemented } from '@podkit/errdefs';
import { defaultSpec, type Spec } from '@podkit/oci-spec';
import type { Plan } from '../plan/types';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A rich base config: the default one plus the fields a fuzzer should reach into. */
export function baseConfig(): Spec {
  const s = defaultSpec({ args: ['sh', '-c', 'exit 0'], terminal: false });
  const proc = s.process ?? { cwd: '/', user: { uid: 0, gid: 0 } };
  const linux = s.linux ?? {};
  s.root = { path: 'rootfs', readonly: false };
  proc.user = { uid: 0, gid: 0, additionalGids: [1, 2], umask: 0o22 };
  proc.oomScoreAdj = 10;
  proc.capabilities = { ...proc.capabilities, inheritable: ['CAP_KILL'] };
  linux.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shm_rmid_forced': '1' };
  linux.devices = [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }];
  linux.rootfsPropagation = 'rslave';
  linux.resources = { ...linux.resources, cpu: { shares: 512 }, pids: { limit: 64 } };
  s.process = proc;
  s.linux = linux;
  s.mounts = [...(s.mounts ?? []), { destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ro', 'nosuid'] }];
  s.domainname = 'example.org';
  return s;
}

/** A base process.json (as `runc exec --process`). */
export function baseProcess(): Json {
  return JSON.parse(JSON.stringify(baseConfig().process)) as Json;
}

/** Every leaf of a document (a path to a string, number, boolean or null). */
export function leaves(doc: Json, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (doc !== null && typeof doc === 'object') {
    for (const [k, v] of Object.entries(doc)) leaves(v, [...at, Array.isArray(doc) ? Number(k) : k], out);
  } else {
    out.push(at);
  }
  return out;
}

/** A copy of `doc` with the value at `at` replaced. */
export function replaced(doc: Json, at: (string | number)[], value: Json): Json {
  const copy = JSON.parse(JSON.stringify(doc)) as Json;
  let node = copy as { [k: string]: Json };
  for (const k of at.slice(0, -1)) node = node[k] as { [k: string]: Json };
  node[at[at.length - 1] ?? ''] = JSON.parse(JSON.stringify(value)) as Json;
  return copy;
}

/** Strings a runtime has been hurt by: traversal, magic links, NUL, huge, unicode, option syntax. */
export const NASTY: Json[] = [
  '',
  '/',
  '.',
  '..',
  '../../../../etc/passwd',
  '/proc/self/fd/3',
  '/dev/../etc/shadow',
  'a\u0000b',
  '\n',
  'x'.repeat(5000),
  'ü/ß/😀',
  'rw,suid,dev',
  'kernel.core_pattern',
  'net.ipv4/../../kernel/core_pattern',
  'CAP_SYS_ADMIN',
  'CAP_NOT_A_CAP',
  'RLIMIT_NOFILE',
  'mount',
  'user',
  'time',
  -1,
  0,
  1.5,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  -(2 ** 53),
  1e308,
  null,
  true,
  [],
  {},
];
const nasty = fc.constantFrom<Json>(...NASTY);

export const weirdValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 4, arbitrary: nasty },
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json> },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.integer() },
);

interface Mutation {
  pick: number;
  op: 'replace' | 'delete' | 'insert' | 'duplicate';
  key: string;
  value: Json;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  pick: fc.nat(),
  op: fc.constantFrom<Mutation['op']>('replace', 'replace', 'delete', 'insert', 'duplicate'),
  key: fc.oneof(fc.constantFrom('type', 'path', 'options', 'destination', 'source', 'uid', 'ambient', 'sysctl', 'hooks', 'x'), fc.string({ maxLength: 8 })),
  value: weirdValue,
});

/** Every container (object or array) in a document with the path to it, the root included. */
function containers(doc: Json, at: (string | number)[] = [], out: { at: (string | number)[]; node: Json }[] = []): typeof out {
  if (doc !== null && typeof doc === 'object') {
    out.push({ at, node: doc });
    for (const [k, v] of Object.entries(doc)) containers(v, [...at, Array.isArray(doc) ? Number(k) : k], out);
  }
  return out;
}

function apply(doc: Json, mut: Mutation): void {
  // fast-check may hand out the same object twice (constantFrom): copy, or a document gets a cycle.
  const m = { ...mut, value: JSON.parse(JSON.stringify(mut.value)) as Json };
  const all = containers(doc);
  const { node } = all[m.pick % all.length] ?? { node: doc };
  if (Array.isArray(node)) {
    const i = node.length === 0 ? 0 : m.pick % node.length;
    if (m.op === 'delete') node.splice(i, 1);
    else if (m.op === 'insert' || node.length === 0) node.splice(i, 0, m.value);
    else if (m.op === 'duplicate') node.push(JSON.parse(JSON.stringify(node[i] ?? null)) as Json);
    else node[i] = m.value;
    return;
  }
  const obj = node as { [k: string]: Json };
  const keys = Object.keys(obj);
  const k = keys.length === 0 || m.op === 'insert' ? m.key : (keys[m.pick % keys.length] ?? m.key);
  if (m.op === 'delete') delete obj[k];
  else if (m.op === 'duplicate') obj[`${k}_`] = JSON.parse(JSON.stringify(obj[k] ?? null)) as Json;
  else obj[k] = m.value;
}

/** A base document with 1-6 mutations applied. */
export function mutated(base: () => Json): fc.Arbitrary<Json> {
  return fc.array(mutation, { minLength: 1, maxLength: 6 }).map((ms) => {
    const doc = base();
    for (const m of ms) apply(doc, m);
    return doc;
  });
}

/** Throws unless `err` is a podkit rejection that names the offending field. */
export function assertNamedRejection(err: unknown): void {
  if (!isPodkitError(err)) throw new Error(`not a podkit error: ${(err as Error)?.stack ?? String(err)}`);
  // FailedPrecondition: the document is fine but names something missing (root.path).
  if (!isInvalidArgument(err) && !isUnimplemented(err) && !isFailedPrecondition(err)) throw new Error(`unexpected error class ${err.code}: ${err.message}`);
  const field = err.details?.['field'];
  // A JSON pointer ('' is the document itself, as in RFC 6901) or a flag/file name.
  if (typeof field !== 'string') throw new Error(`rejection without a field path: ${err.message}`);
  const issues = err.details?.['issues'];
  if (Array.isArray(issues)) {
    for (const i of issues as { path?: unknown; reason?: unknown }[]) {
      if (typeof i.path !== 'string' || typeof i.reason !== 'string' || i.reason === '') throw new Error(`issue without path/reason: ${JSON.stringify(i)}`);
    }
  }
}

const NS = new Set(['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup', 'user', 'time']);
const NAMESPACED_SYSCTL = /^(kernel\.(msgmax|msgmnb|msgmni|sem|shmall|shmmax|shmmni|shm_rmid_forced)|fs\.mqueue\..+|net\..+|kernel\.(hostname|domainname))$/;

/** Throws unless an accepted document's plan is plain JSON and keeps the safety invariants. */
export function assertPlanInvariants(plan: Plan, opts: { normalizedDevices?: boolean } = {}): void {
  const text = JSON.stringify(plan);
  if (JSON.stringify(JSON.parse(text)) !== text) throw new Error('plan does not round-trip through JSON');
  const fail = (what: string) => {
    throw new Error(`plan invariant: ${what}`);
  };
  for (const t of plan.clone) if (!NS.has(t)) fail(`unknown namespace to clone "${t}"`);
  for (const j of plan.join) if (!NS.has(j.type) || !j.path.startsWith('/')) fail(`bad join ${JSON.stringify(j)}`);
  for (const m of plan.rootfs?.mounts ?? []) {
    if (!m.destination.startsWith('/') || path.posix.normalize(m.destination) !== m.destination) fail(`mount destination ${m.destination}`);
    if (m.destination.split('/').includes('..')) fail(`mount destination with .. ${m.destination}`);
    if (m.type === 'bind' && !m.source.startsWith('/')) fail(`relative bind source ${m.source}`);
    if (!Number.isSafeInteger(m.flags) || m.flags < 0) fail(`mount flags ${m.flags}`);
  }
  for (const d of plan.rootfs?.devices ?? []) {
    // `normalizedDevices`: also after resolving `..` (fails today: see devices.pending.ts).
    const p = opts.normalizedDevices ? path.posix.normalize(d.path) : d.path;
    if (!p.startsWith('/dev/')) fail(`device outside /dev: ${d.path}`);
  }
  for (const k of Object.keys(plan.sysctl ?? {})) if (!NAMESPACED_SYSCTL.test(k)) fail(`host sysctl ${k}`);
  const p = plan.process;
  if (!p.cwd.startsWith('/')) fail(`relative cwd ${p.cwd}`);
  for (const set of Object.values(p.capabilities ?? {})) {
    for (const c of set as number[]) if (!Number.isInteger(c) || c < 0 || c > 63) fail(`capability ${c}`);
  }
  for (const r of p.rlimits) if (!Number.isInteger(r.type) || r.type < 0 || r.type > 15) fail(`rlimit type ${r.type}`);
}
