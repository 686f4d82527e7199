/**
 * The cgroup v2 device controller: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE, generated
 * from the OCI allow/deny list the way runc's devicefilter does. The kernel runs it on every open,
 * mknod (and mmap of a device) with a `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32
 * minor; }` in R1, `access_type` being `(BPF_DEVCG_ACC_* << 16) | BPF_DEVCG_DEV_*`; R0 = 1 allows.
 *
 * Semantics, as the v1 devices cgroup and runc: the last rule that matches wins, nothing matched is
 * denied. A rule matches when its type (if not "a") and its major/minor (unless wildcards) are the
 * device's, and the access asked for is a subset of the rule's. The rules are therefore emitted in
 * reverse order, each block returning at once when it matches; a rule that matches everything ends
 * the program (the verifier rejects unreachable instructions, so nothing is emitted after it).
 *
 * Pure: no kernel access here (loading and attaching is in the native addon, sys/native.ts).
 */
import { invalidField } from '@podkit/errdefs';
import type { LinuxDeviceCgroup } from '@podkit/oci-spec';

/** One device rule with wildcards made explicit (-1), as the generator and the v1 writer take them. */
export interface DeviceRule {
  allow: boolean;
  type: 'a' | 'b' | 'c';
  /** -1: any. */
  major: number;
  /** -1: any. */
  minor: number;
  /** A non-empty subset of "rwm". */
  access: string;
}

/**
 * What runc allows in every container besides the config's rules (libcontainer/specconv
 * AllowedDevices): mknod of any device, the standard character devices and the ptys.
 */
export const DEFAULT_ALLOWED_DEVICES: readonly DeviceRule[] = [
  { allow: true, type: 'c', major: -1, minor: -1, access: 'm' },
  { allow: true, type: 'b', major: -1, minor: -1, access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // /dev/null
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // /dev/zero
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }, // /dev/full
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }, // /dev/tty
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }, // /dev/urandom
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }, // /dev/random
  { allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' }, // /dev/pts/*
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // /dev/ptmx
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }, // /dev/net/tun
];

const MAX_DEV = 0x7fffffff;

/**
 * The config's rules (`/linux/resources/devices`) made explicit and checked, each error naming its
 * field. A missing access means "rwm", a missing or -1 major/minor any, a missing type "a".
 */
export function deviceRules(list: readonly LinuxDeviceCgroup[] | undefined, base = '/linux/resources/devices'): DeviceRule[] {
  return (list ?? []).map((d, i) => {
    const f = `${base}/${i}`;
    const type = d.type ?? 'a';
    if (type !== 'a' && type !== 'b' && type !== 'c') throw invalidField(`${f}/type`, `must be "a", "b" or "c", got "${String(type)}"`);
    const num = (v: number | undefined, name: string): number => {
      if (v === undefined || v === -1) return -1;
      if (!Number.isInteger(v) || v < 0 || v > MAX_DEV) throw invalidField(`${f}/${name}`, `must be -1 (any) or a device number from 0 to ${MAX_DEV}, got ${v}`);
      return v;
    };
    const access = d.access ?? 'rwm';
    if (access === '' || !/^[rwm]+$/.test(access)) throw invalidField(`${f}/access`, `must be a non-empty combination of "r", "w" and "m", got "${access}"`);
    return { allow: d.allow, type, major: num(d.major, 'major'), minor: num(d.minor, 'minor'), access };
  });
}

/**
 * The v1 `devices.allow` / `devices.deny` lines of a rule ("c 1:3 rwm", "a"). The kernel reads a
 * line starting with "a" as "every device, every access" whatever follows, so a narrower rule of
 * type "a" becomes one line per type.
 */
export function v1RuleLines(r: DeviceRule): string[] {
  if (r.type === 'a' && r.major === -1 && r.minor === -1 && normAccess(r.access) === 'rwm') return ['a'];
  const n = (v: number) => (v === -1 ? '*' : String(v));
  const types = r.type === 'a' ? ['c', 'b'] : [r.type];
  return types.map((t) => `${t} ${n(r.major)}:${n(r.minor)} ${normAccess(r.access)}`);
}

function normAccess(a: string): string {
  return ['r', 'w', 'm'].filter((c) => a.includes(c)).join('');
}

// ---- eBPF encoding ---------------------------------------------------------------------------------

/** Kernel constants (include/uapi/linux/bpf.h). */
export const BPF_DEVCG_ACC_MKNOD = 1;
export const BPF_DEVCG_ACC_READ = 2;
export const BPF_DEVCG_ACC_WRITE = 4;
export const BPF_DEVCG_DEV_BLOCK = 1;
export const BPF_DEVCG_DEV_CHAR = 2;

/** The opcodes the generator uses (class | op | source). */
export const OP = {
  LDXW: 0x61, // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
  AND32_K: 0x54, // BPF_ALU | BPF_AND | BPF_K
  RSH32_K: 0x74, // BPF_ALU | BPF_RSH | BPF_K
  MOV32_X: 0xbc, // BPF_ALU | BPF_MOV | BPF_X
  MOV32_K: 0xb4, // BPF_ALU | BPF_MOV | BPF_K
  JNE_K: 0x55, // BPF_JMP | BPF_JNE | BPF_K
  JNE_X: 0x5d, // BPF_JMP | BPF_JNE | BPF_X
  EXIT: 0x95, // BPF_JMP | BPF_EXIT
} as const;

/** One `struct bpf_insn` (8 bytes: code, dst_reg:4 | src_reg:4, s16 off, s32 imm). */
export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

const insn = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm });

function accessBits(a: string): number {
  return (a.includes('r') ? BPF_DEVCG_ACC_READ : 0) | (a.includes('w') ? BPF_DEVCG_ACC_WRITE : 0) | (a.includes('m') ? BPF_DEVCG_ACC_MKNOD : 0);
}

const ALL_ACCESS = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;

/**
 * The program for a rule list (first rule first, as in the config). R2 = device type, R3 = access
 * asked for, R4 = major, R5 = minor; each rule is one block that jumps to the next block when a
 * check fails and returns its verdict when all pass.
 */
export function deviceFilterInsns(rules: readonly DeviceRule[]): Insn[] {
  const out: Insn[] = [
    insn(OP.LDXW, 2, 1, 0), // r2 = ctx->access_type
    insn(OP.AND32_K, 2, 0, 0, 0xffff), // r2 &= 0xffff: the device type
    insn(OP.LDXW, 3, 1, 0), // r3 = ctx->access_type
    insn(OP.RSH32_K, 3, 0, 0, 16), // r3 >>= 16: the access bits
    insn(OP.LDXW, 4, 1, 4), // r4 = ctx->major
    insn(OP.LDXW, 5, 1, 8), // r5 = ctx->minor
  ];
  let matchesAll = false;
  for (let i = rules.length - 1; i >= 0 && !matchesAll; i--) {
    const r = rules[i] as DeviceRule;
    // Checks jump to the next block, whose index is known only once this block is complete: emit
    // them with a placeholder target and patch the offsets after.
    const checks: number[] = [];
    const check = (x: Insn) => {
      checks.push(out.length);
      out.push(x);
    };
    if (r.type !== 'a') check(insn(OP.JNE_K, 2, 0, 0, r.type === 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK));
    const bits = accessBits(r.access);
    if (bits !== ALL_ACCESS) {
      // The access asked for must be a subset of the rule's: (r3 & bits) == r3, r1 as scratch.
      out.push(insn(OP.MOV32_X, 1, 3));
      out.push(insn(OP.AND32_K, 1, 0, 0, bits));
      check(insn(OP.JNE_X, 1, 3));
    }
    if (r.major !== -1) check(insn(OP.JNE_K, 4, 0, 0, r.major));
    if (r.minor !== -1) check(insn(OP.JNE_K, 5, 0, 0, r.minor));
    out.push(insn(OP.MOV32_K, 0, 0, 0, r.allow ? 1 : 0));
    out.push(insn(OP.EXIT));
    const next = out.length;
    for (const at of checks) (out[at] as Insn).off = next - at - 1;
    matchesAll = checks.length === 0;
  }
  if (!matchesAll) {
    // Nothing matched: deny.
    out.push(insn(OP.MOV32_K, 0, 0, 0, 0));
    out.push(insn(OP.EXIT));
  }
  return out;
}

/** The program as the kernel takes it (little-endian `struct bpf_insn` array). */
export function encodeInsns(insns: readonly Insn[]): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((x, i) => {
    buf.writeUInt8(x.code, i * 8);
    buf.writeUInt8((x.dst & 0xf) | ((x.src & 0xf) << 4), i * 8 + 1);
    buf.writeInt16LE(x.off, i * 8 + 2);
    buf.writeInt32LE(x.imm | 0, i * 8 + 4);
  });
  return buf;
}

/** The whole device filter of a container: its rules, then runc's defaults, as one program. */
export function deviceFilter(list: readonly LinuxDeviceCgroup[] | undefined): Buffer {
  return encodeInsns(deviceFilterInsns([...deviceRules(list), ...DEFAULT_ALLOWED_DEVICES]));
}

/** A readable listing of a program (for errors and tests): `jne r2, 2, +4`. */
export function disassemble(insns: readonly Insn[]): string[] {
  const names: Record<number, string> = {
    [OP.LDXW]: 'ldxw',
    [OP.AND32_K]: 'and32',
    [OP.RSH32_K]: 'rsh32',
    [OP.MOV32_X]: 'mov32',
    [OP.MOV32_K]: 'mov32',
    [OP.JNE_K]: 'jne',
    [OP.JNE_X]: 'jne',
    [OP.EXIT]: 'exit',
  };
  return insns.map((x) => {
    const n = names[x.code] ?? `op${x.code.toString(16)}`;
    switch (x.code) {
      case OP.LDXW:
        return `${n} r${x.dst}, [r${x.src}+${x.off}]`;
      case OP.AND32_K:
      case OP.RSH32_K:
      case OP.MOV32_K:
        return `${n} r${x.dst}, ${x.imm}`;
      case OP.MOV32_X:
        return `${n} r${x.dst}, r${x.src}`;
      case OP.JNE_K:
        return `${n} r${x.dst}, ${x.imm}, +${x.off}`;
      case OP.JNE_X:
        return `${n} r${x.dst}, r${x.src}, +${x.off}`;
      default:
        return n;
    }
  });
}
