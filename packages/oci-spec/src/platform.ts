/**
 * Platforms (os/architecture/variant), after containerd's `platforms` package: the platform of this
 * machine, normalisation of architecture aliases, matching with variant compatibility, and choosing the
 * best manifest of an index.
 */
import { endianness } from 'node:os';
import { invalidField } from '@podkit/errdefs';
import type { Descriptor, Platform } from './schema/image';

const KNOWN_OS = new Set([
  'aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'illumos', 'ios', 'js', 'linux', 'netbsd', 'openbsd', 'plan9', 'solaris', 'wasip1', 'windows',
]);
const KNOWN_ARCH = new Set([
  '386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'loong64', 'mips', 'mipsle', 'mips64', 'mips64le',
  'mips64p32', 'mips64p32le', 'ppc', 'ppc64', 'ppc64le', 'riscv', 'riscv64', 's390', 's390x', 'sparc', 'sparc64', 'wasm',
]);

/** Node's `process.arch` → GOARCH. */
function goArch(arch: string): string {
  switch (arch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    case 'ppc64':
      return endianness() === 'LE' ? 'ppc64le' : 'ppc64';
    case 'mipsel':
      return 'mipsle';
    case 'mips64el':
      return 'mips64le';
    default:
      return arch;
  }
}

/** The platform of this machine: linux, GOARCH name of process.arch, a variant for arm and arm64. */
export function defaultPlatform(): Platform {
  const architecture = goArch(process.arch);
  const p: Platform = { os: 'linux', architecture };
  if (architecture === 'arm') {
    const v = (process.config.variables as Record<string, unknown>)['arm_version'];
    p.variant = `v${typeof v === 'string' || typeof v === 'number' ? String(v) : '7'}`;
  } else if (architecture === 'arm64') {
    p.variant = 'v8';
  }
  return p;
}

function normalizeArch(arch: string, variant: string | undefined): { architecture: string; variant?: string } {
  const a = arch.toLowerCase();
  const v = variant?.toLowerCase();
  switch (a) {
    case 'i386':
    case 'i686':
      return { architecture: '386' };
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return v === undefined || v === '' || v === 'v1' ? { architecture: 'amd64' } : { architecture: 'amd64', variant: v };
    case 'aarch64':
    case 'arm64':
      switch (v) {
        case undefined:
        case '':
        case '8':
        case 'v8':
        case 'v8.0':
          return { architecture: 'arm64', variant: 'v8' };
        default:
          return { architecture: 'arm64', variant: /^\d/.test(v) ? `v${v}` : v };
      }
    case 'armhf':
      return { architecture: 'arm', variant: 'v7' };
    case 'armel':
      return { architecture: 'arm', variant: 'v6' };
    case 'arm':
      return { architecture: 'arm', variant: v === undefined || v === '' ? 'v7' : /^\d/.test(v) ? `v${v}` : v };
    default:
      return v === undefined || v === '' ? { architecture: a } : { architecture: a, variant: v };
  }
}

/**
 * A normalised copy: lowercase os, GOARCH architecture names (`x86_64` → amd64, `aarch64` → arm64,
 * `armhf` → arm/v7), arm variant defaulted to v7, arm64's to v8, amd64's v1 dropped.
 */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase() === 'macos' ? 'darwin' : p.os.toLowerCase();
  const out: Platform = { os, ...normalizeArch(p.architecture, p.variant) };
  if (p['os.version'] !== undefined) out['os.version'] = p['os.version'];
  if (p['os.features'] !== undefined) out['os.features'] = [...p['os.features']];
  if (p.features !== undefined) out.features = [...p.features];
  return out;
}

/** Ordered variants of the architectures whose CPUs run older variants' code. */
function variantLevel(arch: string, variant: string | undefined): number | undefined {
  const v = variant ?? '';
  if (arch === 'amd64') return v === '' ? 1 : /^v[1-4]$/.test(v) ? Number(v.slice(1)) : undefined;
  if (arch === 'arm' || arch === 'arm64') {
    const m = /^v(\d+)(?:\.(\d+))?$/.exec(v);
    return m ? Number(m[1]) * 10 + Number(m[2] ?? 0) : undefined;
  }
  return undefined;
}

/**
 * True when an image for `have` runs on `want` (the host): same os and architecture, a variant the host
 * supports (an arm/v7 host runs v5–v7, an amd64/v3 host runs v1–v3; a host without a variant accepts
 * any), the same os.version when both name one, and every os.feature the image needs present on the host.
 */
export function matchPlatform(want: Platform, have: Platform): boolean {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return false;
  if (want.variant !== undefined && want.variant !== '' && w.variant !== h.variant) {
    const wl = variantLevel(w.architecture, w.variant);
    const hl = variantLevel(h.architecture, h.variant);
    if (wl === undefined || hl === undefined || hl > wl) return false;
  }
  if (w['os.version'] && h['os.version'] && w['os.version'] !== h['os.version']) return false;
  const hostFeatures = new Set(w['os.features'] ?? []);
  if ((h['os.features'] ?? []).some((f) => !hostFeatures.has(f))) return false;
  return true;
}

/**
 * The best manifest of an index for `want` (default: this machine): an exact variant before an older
 * compatible one, the newest compatible variant first, an exact os.version first; entries without a
 * platform only when nothing matches. Undefined when no entry fits.
 */
export function selectPlatform(manifests: readonly Descriptor[], want: Platform = defaultPlatform()): Descriptor | undefined {
  const w = normalizePlatform(want);
  let best: Descriptor | undefined;
  let bestScore = -Infinity;
  let fallback: Descriptor | undefined;
  for (const d of manifests) {
    if (d.platform === undefined) {
      fallback ??= d;
      continue;
    }
    if (!matchPlatform(want, d.platform)) continue;
    const h = normalizePlatform(d.platform);
    let score = 0;
    if (h.variant === w.variant) score += 1000;
    else score += variantLevel(h.architecture, h.variant) ?? 0;
    if (w['os.version'] !== undefined && h['os.version'] === w['os.version']) score += 10000;
    if (score > bestScore) {
      best = d;
      bestScore = score;
    }
  }
  return best ?? fallback;
}

/** `linux/arm64/v8` (os/architecture[/variant]). */
export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

const COMPONENT = /^[A-Za-z0-9_.-]+$/;

/**
 * Parses `os[/arch[/variant]]` and normalises it. A single component may be an os (the architecture is
 * then this machine's) or an architecture (the os is linux).
 */
export function parsePlatform(s: string): Platform {
  const fail = (reason: string): never => {
    throw invalidField('platform', `${JSON.stringify(s)}: ${reason}`);
  };
  if (typeof s !== 'string' || s.length === 0) fail('platform is empty');
  const parts = s.split('/');
  if (parts.length > 3) fail('expected os[/architecture[/variant]]');
  for (const part of parts) {
    if (!COMPONENT.test(part)) fail(`invalid component ${JSON.stringify(part)}: must match [A-Za-z0-9_.-]+`);
  }
  const [a, b, c] = parts.map((x) => x.toLowerCase()) as [string, string | undefined, string | undefined];
  if (b === undefined) {
    if (KNOWN_OS.has(a) || a === 'macos') {
      const here = defaultPlatform();
      return normalizePlatform({ os: a, architecture: here.architecture, ...(here.variant ? { variant: here.variant } : {}) });
    }
    const arch = normalizeArch(a, undefined).architecture;
    if (KNOWN_ARCH.has(arch)) return normalizePlatform({ os: 'linux', architecture: a });
    return fail(`unknown operating system or architecture "${a}"`);
  }
  return normalizePlatform({ os: a, architecture: b, ...(c !== undefined ? { variant: c } : {}) });
}
