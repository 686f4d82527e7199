import * as fs from 'node:fs';
import { isInvalidArgument, isNotFound } from '@podkit/errdefs';
import { checkProcessIdentity, parseSignal, pidfdInode, pidfdOpen, readProcStat } from './process';

describe('parseSignal', () => {
  it('accepts names with or without SIG, any case, and numbers', () => {
    expect(parseSignal('KILL')).toBe(9);
    expect(parseSignal('sigterm')).toBe(15);
    expect(parseSignal('SIGUSR1')).toBe(10);
    expect(parseSignal('9')).toBe(9);
    expect(parseSignal(15)).toBe(15);
    expect(parseSignal('RTMIN+2')).toBe(36);
    expect(parseSignal('SIGRTMAX')).toBe(64);
  });

  it('rejects unknown signals naming the field', () => {
    expect(() => parseSignal('NOPE')).toThrow(/signal: unknown signal "NOPE"/);
    expect(() => parseSignal('0')).toThrow(/out of range/);
    let err: unknown;
    try {
      parseSignal('99', 'kill/signal');
    } catch (e) {
      err = e;
    }
    expect(isInvalidArgument(err)).toBe(true);
  });
});

describe('process identity', () => {
  it('reads state and start time from /proc/<pid>/stat', () => {
    const st = readProcStat(process.pid)!;
    expect(st.state).toMatch(/^[RS]$/);
    expect(Number(st.startTime)).toBeGreaterThan(0);
    expect(readProcStat(2 ** 30)).toBeNull();
  });

  it('detects a different process behind a recorded pid', () => {
    const st = readProcStat(process.pid)!;
    expect(checkProcessIdentity(process.pid, st.startTime).startTime).toBe(st.startTime);
    let err: unknown;
    try {
      checkProcessIdentity(process.pid, String(Number(st.startTime) + 1));
    } catch (e) {
      err = e;
    }
    expect(isNotFound(err)).toBe(true);
  });

  it('opens pidfds whose inode identifies the process', () => {
    const a = pidfdOpen(process.pid);
    const b = pidfdOpen(process.pid);
    try {
      expect(pidfdInode(a)).toBe(pidfdInode(b));
    } finally {
      fs.closeSync(a);
      fs.closeSync(b);
    }
    expect(() => pidfdOpen(2 ** 30)).toThrow(/pidfd_open: ESRCH/);
  });
});
