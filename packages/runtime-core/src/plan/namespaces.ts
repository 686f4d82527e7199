/**
 * The plan's user namespace, time namespace, personality and mount extensions (recursive attributes,
 * idmapped binds): validated here, each problem with its JSON path, as runc's validator does.
 */
import type { FieldIssue } from '@podkit/errdefs';
import type { LinuxIDMapping, Spec } from '@podkit/oci-spec';
import { PERSONALITY_DOMAINS, PERSONALITY_FLAGS, RECURSIVE_MOUNT_OPTIONS, MOUNT_ATTR, TIME_NS_CLOCKS } from './tables';
import type { Plan, PlanMount, PlanUserns } from './types';

/** The kernel takes at most this many lines in a uid_map/gid_map (since Linux 4.15). */
export const MAX_ID_MAP_LINES = 340;

/** Checks one mapping list: sizes, 32-bit ranges, no overlap on either side, the kernel's line limit. */
export function idMappingIssues(maps: readonly LinuxIDMapping[], base: string, issues: FieldIssue[]): void {
  if (maps.length > MAX_ID_MAP_LINES) issues.push({ path: base, reason: `has ${maps.length} entries; the kernel takes at most ${MAX_ID_MAP_LINES}` });
  const max = 2 ** 32;
  maps.forEach((m, i) => {
    const p = `${base}/${i}`;
    if (m.size < 1) issues.push({ path: `${p}/size`, reason: 'must be at least 1' });
    else if (m.containerID + m.size > max) issues.push({ path: `${p}/size`, reason: `containerID ${m.containerID} + size ${m.size} exceeds the 32-bit id range` });
    else if (m.hostID + m.size > max) issues.push({ path: `${p}/size`, reason: `hostID ${m.hostID} + size ${m.size} exceeds the 32-bit id range` });
    for (let j = 0; j < i; j++) {
      const o = maps[j] as LinuxIDMapping;
      const overlaps = (a: number, b: number) => a < b + o.size && b < a + m.size;
      if (overlaps(m.containerID, o.containerID)) issues.push({ path: p, reason: `its containerID range [${m.containerID}, ${m.containerID + m.size}) overlaps that of ${base}/${j}` });
      else if (overlaps(m.hostID, o.hostID)) issues.push({ path: p, reason: `its hostID range [${m.hostID}, ${m.hostID + m.size}) overlaps that of ${base}/${j}` });
    }
  });
}

function mapped(id: number, maps: readonly LinuxIDMapping[]): boolean {
  return maps.some((m) => id >= m.containerID && id < m.containerID + m.size);
}

/** Whether this process can write any map of a child user namespace (CAP_SETGID/SETUID as host root). */
function privileged(): boolean {
  return process.geteuid?.() === 0;
}

/**
 * The user namespace part of a create plan. A new namespace needs both maps (the kernel refuses ids
 * of a namespace without them); maps need a user namespace; a joined one keeps its own maps, and maps
 * given with it must equal them (podkit-init checks). The process's ids must be mapped.
 */
export function usernsPlan(spec: Spec, issues: FieldIssue[]): PlanUserns | undefined {
  const l = spec.linux;
  const nsIndex = (l?.namespaces ?? []).findIndex((n) => n.type === 'user');
  const uid = l?.uidMappings;
  const gid = l?.gidMappings;
  if (uid) idMappingIssues(uid, '/linux/uidMappings', issues);
  if (gid) idMappingIssues(gid, '/linux/gidMappings', issues);
  if (nsIndex < 0) {
    if (uid) issues.push({ path: '/linux/uidMappings', reason: 'needs a user namespace (add {"type": "user"} to /linux/namespaces)' });
    if (gid) issues.push({ path: '/linux/gidMappings', reason: 'needs a user namespace (add {"type": "user"} to /linux/namespaces)' });
    return undefined;
  }
  const joined = Boolean(l?.namespaces?.[nsIndex]?.path);
  if (!joined) {
    if (!uid?.length) issues.push({ path: '/linux/uidMappings', reason: `a new user namespace (/linux/namespaces/${nsIndex}) needs uid mappings` });
    if (!gid?.length) issues.push({ path: '/linux/gidMappings', reason: `a new user namespace (/linux/namespaces/${nsIndex}) needs gid mappings` });
  }
  const u = spec.process?.user;
  if (u && uid?.length && !mapped(u.uid, uid)) issues.push({ path: '/process/user/uid', reason: `${u.uid} is not mapped by /linux/uidMappings` });
  if (u && gid?.length) {
    if (!mapped(u.gid, gid)) issues.push({ path: '/process/user/gid', reason: `${u.gid} is not mapped by /linux/gidMappings` });
    (u.additionalGids ?? []).forEach((g, i) => {
      if (!mapped(g, gid)) issues.push({ path: `/process/user/additionalGids/${i}`, reason: `${g} is not mapped by /linux/gidMappings` });
    });
  }
  return {
    ...(uid?.length ? { uidMappings: uid.map((m) => ({ ...m })) } : {}),
    ...(gid?.length ? { gidMappings: gid.map((m) => ({ ...m })) } : {}),
    setgroups: privileged() ? 'allow' : 'deny',
  };
}

/** /linux/timeOffsets: only a new time namespace takes offsets, only for its two clocks. */
export function timeOffsetsPlan(spec: Spec, issues: FieldIssue[]): Plan['timeOffsets'] {
  const l = spec.linux;
  const ns = (l?.namespaces ?? []).findIndex((n) => n.type === 'time');
  const raw = l?.timeOffsets as Record<string, { secs?: number; nanosecs?: number }> | undefined;
  if (raw === undefined) return undefined;
  if (ns < 0) {
    issues.push({ path: '/linux/timeOffsets', reason: 'needs a time namespace (add {"type": "time"} to /linux/namespaces)' });
    return undefined;
  }
  if (l?.namespaces?.[ns]?.path) {
    issues.push({ path: '/linux/timeOffsets', reason: `a time namespace joined by path (/linux/namespaces/${ns}/path) keeps its own offsets` });
    return undefined;
  }
  const out: NonNullable<Plan['timeOffsets']> = {};
  for (const [clock, o] of Object.entries(raw)) {
    if (!(TIME_NS_CLOCKS as readonly string[]).includes(clock)) {
      issues.push({ path: `/linux/timeOffsets/${clock}`, reason: `unknown clock; a time namespace offsets only ${TIME_NS_CLOCKS.join(' and ')}` });
      continue;
    }
    if (typeof o !== 'object' || o === null) {
      issues.push({ path: `/linux/timeOffsets/${clock}`, reason: 'must be an object {secs, nanosecs}' });
      continue;
    }
    const nanosecs = o.nanosecs ?? 0;
    if (!Number.isInteger(nanosecs) || nanosecs < 0 || nanosecs >= 1e9) issues.push({ path: `/linux/timeOffsets/${clock}/nanosecs`, reason: 'must be an integer from 0 to 999999999' });
    out[clock as (typeof TIME_NS_CLOCKS)[number]] = { secs: o.secs ?? 0, nanosecs };
  }
  return out;
}

/** /linux/personality as the personality(2) value. */
export function personalityPlan(spec: Spec, issues: FieldIssue[]): number | undefined {
  const p = spec.linux?.personality;
  if (!p) return undefined;
  let value = PERSONALITY_DOMAINS[p.domain];
  if (value === undefined) {
    issues.push({ path: '/linux/personality/domain', reason: `unknown domain "${p.domain}" (one of ${Object.keys(PERSONALITY_DOMAINS).join(', ')})` });
    return undefined;
  }
  (p.flags ?? []).forEach((f, i) => {
    const bit = PERSONALITY_FLAGS[f];
    if (bit === undefined) issues.push({ path: `/linux/personality/flags/${i}`, reason: `unknown personality flag "${f}" (one of ${Object.keys(PERSONALITY_FLAGS).join(', ')})` });
    else value = (value as number) | bit;
  });
  return value;
}

/** What `mountExtensions` takes out of a mount's options before the generic option parser sees them. */
export interface MountExtensions {
  /** The options left for parseMountOptions (flags, propagation, filesystem data). */
  rest: string[];
  recAttr?: NonNullable<PlanMount['recAttr']>;
  /** `idmap` / `ridmap` given (at most one). */
  idmapOption?: 'idmap' | 'ridmap';
}

/**
 * Splits the runtime-spec 1.1/1.2 mount options podrun handles itself: the recursive attributes (to
 * mount_setattr bits, the access-time field cleared whenever one of its values is set, as
 * mount_setattr(2) requires) and idmap/ridmap.
 */
export function mountExtensions(options: readonly string[], base: string, issues: FieldIssue[]): MountExtensions {
  const rest: string[] = [];
  let set = 0;
  let clr = 0;
  let any = false;
  let idmapOption: MountExtensions['idmapOption'];
  options.forEach((o, i) => {
    const r = RECURSIVE_MOUNT_OPTIONS[o];
    if (r) {
      any = true;
      if (r.clear) {
        clr |= r.flag;
        set &= ~r.flag;
      } else {
        set |= r.flag;
        clr &= ~r.flag;
        if ((r.flag & MOUNT_ATTR.ATIME_MASK) === r.flag) clr |= MOUNT_ATTR.ATIME_MASK;
      }
      return;
    }
    if (o === 'idmap' || o === 'ridmap') {
      if (idmapOption && idmapOption !== o) issues.push({ path: `${base}/${i}`, reason: `"${o}" contradicts "${idmapOption}" given before` });
      idmapOption = o;
      return;
    }
    rest.push(o);
  });
  return { rest, ...(any ? { recAttr: { set, clr } } : {}), ...(idmapOption ? { idmapOption } : {}) };
}

/**
 * The idmap of a mount (`uidMappings`/`gidMappings` or the idmap/ridmap options). Mappings absent
 * with the option: the container's own (runtime-spec 1.2 allows that), which needs a user namespace.
 * Only bind mounts can be idmapped (as in runc): the maps apply to an existing tree.
 */
export function mountIdmap(
  m: { uidMappings?: LinuxIDMapping[]; gidMappings?: LinuxIDMapping[] },
  idmapOption: MountExtensions['idmapOption'],
  bind: boolean,
  base: string,
  containerUserns: PlanUserns | undefined,
  issues: FieldIssue[],
): PlanMount['idmap'] {
  if (!m.uidMappings && !m.gidMappings && !idmapOption) return undefined;
  if (!bind) {
    issues.push({ path: base, reason: 'only bind mounts can be idmapped' });
    return undefined;
  }
  let uid = m.uidMappings;
  let gid = m.gidMappings;
  if (!uid && !gid) {
    uid = containerUserns?.uidMappings;
    gid = containerUserns?.gidMappings;
    if (!uid || !gid) {
      issues.push({ path: `${base}/options`, reason: `"${idmapOption}" without uidMappings/gidMappings uses the container's user namespace mappings, and there are none` });
      return undefined;
    }
  } else if (!uid?.length || !gid?.length) {
    issues.push({ path: uid?.length ? `${base}/gidMappings` : `${base}/uidMappings`, reason: 'an idmapped mount needs both uidMappings and gidMappings' });
    return undefined;
  } else {
    idMappingIssues(uid, `${base}/uidMappings`, issues);
    idMappingIssues(gid, `${base}/gidMappings`, issues);
  }
  return { uidMappings: uid.map((x) => ({ ...x })), gidMappings: gid.map((x) => ({ ...x })), recursive: idmapOption === 'ridmap' };
}
