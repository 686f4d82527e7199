import { isInvalidArgument } from '@podkit/errdefs';
import {
  BPF_DEVCG_ACC_MKNOD,
  BPF_DEVCG_ACC_READ,
  BPF_DEVCG_ACC_WRITE,
  BPF_DEVCG_DEV_BLOCK,
  BPF_DEVCG_DEV_CHAR,
  DEFAULT_ALLOWED_DEVICES,
  deviceFilter,
  deviceFilterInsns,
  deviceRules,
  disassemble,
  encodeInsns,
  OP,
  v1RuleLines,
  type DeviceRule,
  type Insn,
} from './devicefilter';

/** A tiny interpreter of the instructions the generator emits, run on one device access. */
function run(insns: readonly Insn[], type: number, access: number, major: number, minor: number): number {
  const ctx = [(access << 16) | type, major, minor];
  const r = new Array<number>(11).fill(0);
  for (let pc = 0, steps = 0; pc < insns.length; pc++, steps++) {
    if (steps > 10_000) throw new Error('loop');
    const x = insns[pc] as Insn;
    switch (x.code) {
      case OP.LDXW:
        r[x.dst] = ctx[x.off / 4] as number;
        break;
      case OP.AND32_K:
        r[x.dst] = ((r[x.dst] as number) & x.imm) >>> 0;
        break;
      case OP.RSH32_K:
        r[x.dst] = (r[x.dst] as number) >>> x.imm;
        break;
      case OP.MOV32_X:
        r[x.dst] = r[x.src] as number;
        break;
      case OP.MOV32_K:
        r[x.dst] = x.imm >>> 0;
        break;
      case OP.JNE_K:
        if (r[x.dst] !== x.imm) pc += x.off;
        break;
      case OP.JNE_X:
        if (r[x.dst] !== r[x.src]) pc += x.off;
        break;
      case OP.EXIT:
        return r[0] as number;
      default:
        throw new Error(`unknown opcode ${x.code}`);
    }
  }
  throw new Error('fell off the end');
}

/** The reference semantics: the last matching rule decides, nothing matched is denied. */
function reference(rules: readonly DeviceRule[], type: number, access: number, major: number, minor: number): number {
  let verdict = 0;
  for (const rule of rules) {
    const t = rule.type === 'a' || (rule.type === 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK) === type;
    const bits = (rule.access.includes('r') ? BPF_DEVCG_ACC_READ : 0) | (rule.access.includes('w') ? BPF_DEVCG_ACC_WRITE : 0) | (rule.access.includes('m') ? BPF_DEVCG_ACC_MKNOD : 0);
    if (t && (access & bits) === access && (rule.major === -1 || rule.major === major) && (rule.minor === -1 || rule.minor === minor)) verdict = rule.allow ? 1 : 0;
  }
  return verdict;
}

describe('device filter (cgroup v2 eBPF program)', () => {
  it('generates the instructions runc generates, hand-decoded: deny all, then allow c 1:3 rw', () => {
    const insns = deviceFilterInsns(deviceRules([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }]));
    expect(disassemble(insns)).toEqual([
      'ldxw r2, [r1+0]',
      'and32 r2, 65535',
      'ldxw r3, [r1+0]',
      'rsh32 r3, 16',
      'ldxw r4, [r1+4]',
      'ldxw r5, [r1+8]',
      // block 0: the last rule, c 1:3 rw
      'jne r2, 2, +7', // not a char device: to block 1 (index 14)
      'mov32 r1, r3',
      'and32 r1, 6', // READ | WRITE
      'jne r1, r3, +4', // asks for more than rw (mknod): to block 1
      'jne r4, 1, +3',
      'jne r5, 3, +2',
      'mov32 r0, 1',
      'exit',
      // block 1: deny all matches everything, so it ends the program (no unreachable default)
      'mov32 r0, 0',
      'exit',
    ]);
    // The jump targets, checked as numbers too: each lands on the first instruction of block 1.
    for (const at of [6, 9, 10, 11]) expect(at + 1 + (insns[at] as Insn).off).toBe(14);
  });

  it('encodes struct bpf_insn little-endian: code, dst|src<<4, off, imm', () => {
    const buf = encodeInsns([
      { code: OP.LDXW, dst: 4, src: 1, off: 4, imm: 0 },
      { code: OP.JNE_K, dst: 4, src: 0, off: 3, imm: 136 },
      { code: OP.MOV32_K, dst: 0, src: 0, off: 0, imm: 1 },
      { code: OP.EXIT, dst: 0, src: 0, off: 0, imm: 0 },
    ]);
    expect(buf.toString('hex')).toBe(['6114040000000000', '5504030088000000', 'b400000001000000', '9500000000000000'].join(''));
  });

  it('ends with a default deny when no rule matches everything', () => {
    const insns = deviceFilterInsns(deviceRules([{ allow: true, type: 'b', major: 8, access: 'r' }]));
    expect(disassemble(insns).slice(-2)).toEqual(['mov32 r0, 0', 'exit']);
    expect(run(insns, BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_ACC_READ, 8, 17)).toBe(1);
    expect(run(insns, BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_ACC_WRITE, 8, 17)).toBe(0);
    expect(run(insns, BPF_DEVCG_DEV_CHAR, BPF_DEVCG_ACC_READ, 8, 17)).toBe(0);
    expect(run(insns, BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_ACC_READ, 9, 0)).toBe(0);
  });

  it('agrees with "last match wins, default deny" on every device of a mixed list', () => {
    const rules = [
      ...deviceRules([
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', access: 'm' },
        { allow: true, type: 'c', major: 1, access: 'rw' },
        { allow: false, type: 'c', major: 1, minor: 5, access: 'w' },
        { allow: true, type: 'b', major: 254, minor: 0, access: 'r' },
        { allow: true, type: 'a', major: 10, access: 'rwm' },
        { allow: false, type: 'a', minor: 200, access: 'm' },
      ]),
      ...DEFAULT_ALLOWED_DEVICES,
    ];
    const insns = deviceFilterInsns(rules);
    let checked = 0;
    for (const type of [BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR]) {
      for (let access = 1; access <= 7; access++) {
        for (const major of [1, 5, 8, 10, 136, 254]) {
          for (const minor of [0, 2, 3, 5, 7, 200]) {
            expect([type, access, major, minor, run(insns, type, access, major, minor)]).toEqual([type, access, major, minor, reference(rules, type, access, major, minor)]);
            checked++;
          }
        }
      }
    }
    expect(checked).toBe(504);
    // Spot checks: /dev/null rw allowed by the defaults, /dev/zero write denied by rule 3 then
    // re-allowed by the defaults (they come last), block 254:0 write denied.
    expect(run(insns, BPF_DEVCG_DEV_CHAR, BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE, 1, 3)).toBe(1);
    expect(run(insns, BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_ACC_WRITE, 254, 0)).toBe(0);
  });

  it('is default deny for an empty list, and a trailing allow-all stops the program', () => {
    expect(disassemble(deviceFilterInsns([])).slice(6)).toEqual(['mov32 r0, 0', 'exit']);
    const all = deviceFilterInsns(deviceRules([{ allow: true, access: 'rwm' }]));
    expect(disassemble(all).slice(6)).toEqual(['mov32 r0, 1', 'exit']);
    expect(deviceFilter([{ allow: false, access: 'rwm' }]).length % 8).toBe(0);
  });

  it('checks the rules, naming the field', () => {
    const bad: Array<[unknown, string]> = [
      [{ allow: true, type: 'x' }, '/linux/resources/devices/0/type'],
      [{ allow: true, type: 'c', major: -2 }, '/linux/resources/devices/0/major'],
      [{ allow: true, type: 'c', minor: 2 ** 32 }, '/linux/resources/devices/0/minor'],
      [{ allow: true, type: 'c', access: 'rx' }, '/linux/resources/devices/0/access'],
      [{ allow: true, type: 'c', access: '' }, '/linux/resources/devices/0/access'],
    ];
    for (const [rule, field] of bad) {
      let err: unknown;
      try {
        deviceRules([rule as never]);
      } catch (e) {
        err = e;
      }
      expect(isInvalidArgument(err)).toBe(true);
      expect((err as Error).message.startsWith(`${field}: `)).toBe(true);
    }
  });

  it('formats v1 rule lines', () => {
    expect(deviceRules([{ allow: false, access: 'rwm' }]).flatMap(v1RuleLines)).toEqual(['a']);
    expect(deviceRules([{ allow: true, type: 'c', major: 136, access: 'wr' }]).flatMap(v1RuleLines)).toEqual(['c 136:* rw']);
    // The kernel reads any "a ..." line as all devices: a narrower "a" rule is one line per type.
    expect(deviceRules([{ allow: true, type: 'a', major: 1, minor: -1 }]).flatMap(v1RuleLines)).toEqual(['c 1:* rwm', 'b 1:* rwm']);
    expect(deviceRules([{ allow: false, type: 'a', access: 'm' }]).flatMap(v1RuleLines)).toEqual(['c *:* m', 'b *:* m']);
  });
});
