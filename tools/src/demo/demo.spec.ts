import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isInvalidArgument } from '@podkit/errdefs';
import { emptyJournal, JOURNAL_FILE, JournalFile, parseJournal } from './journal';
import { parseArgs } from './main';
import { ipInSubnet } from './pod';
import { alive, cgroupDirsFor, foreignNamespaces, mountsUnder, nsIdentity, processRef, startTimeOf, type MountEntry } from './procfs';
import { overlayDirs } from './snapshots';
import { leaseFiles } from './teardown';

describe('journal', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-demo-journal-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes each change durably and reads it back', () => {
    const runDir = path.join(dir, 'run');
    const j = new JournalFile(runDir, emptyJournal(runDir, path.join(dir, 'data'), { pid: 1, startTime: '5', what: 'demo' }));
    expect(JournalFile.read(runDir)).toBeUndefined();
    j.record((d) => d.netns.push(path.join(runDir, 'netns', 'host')));
    j.record((d) => d.containers.push({ id: 'demo-a0', bundle: '/b', rootfs: '/b/rootfs', snapshot: 's', cgroupsPath: 'x', cgroupDirs: ['/sys/fs/cgroup/pids/x'] }));
    const back = JournalFile.read(runDir);
    expect(back?.data).toEqual(j.data);
    expect(fs.statSync(path.join(runDir, JOURNAL_FILE)).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(runDir)).toEqual([JOURNAL_FILE]);
    back?.remove();
    expect(JournalFile.read(runDir)).toBeUndefined();
  });

  it('rejects a damaged journal with the path of the problem', () => {
    const good = emptyJournal('/run/x', '/var/x', { pid: 1, startTime: '1', what: 'd' });
    expect(parseJournal(good, 'f')).toEqual(good);
    const cases: Array<[unknown, string]> = [
      [[], '/'],
      [{ ...good, version: 2 }, '/version'],
      [{ ...good, runDir: 'rel' }, '/runDir'],
      [{ ...good, netns: 'x' }, '/netns'],
      [{ ...good, processes: [{ pid: 0, startTime: '1' }] }, '/processes/0'],
      [{ ...good, containers: [{ id: 'a' }] }, '/containers/0'],
      [{ ...good, cni: [{ network: 'n' }] }, '/cni/0'],
    ];
    for (const [doc, field] of cases) {
      let err: unknown;
      try {
        parseJournal(doc, 'f');
      } catch (e) {
        err = e;
      }
      expect(isInvalidArgument(err)).toBe(true);
      expect((err as Error).message).toContain(`${field}:`);
    }
    fs.writeFileSync(path.join(dir, JOURNAL_FILE), '{');
    expect(() => JournalFile.read(dir)).toThrow(/not valid JSON/);
  });
});

describe('arguments', () => {
  it('takes the roots, --cleanup and --help', () => {
    expect(parseArgs([])).toEqual({ cleanup: false, help: false });
    expect(parseArgs(['--run-dir', '/r', '--data-dir=/d', '--cleanup'])).toEqual({ runDir: '/r', dataDir: '/d', cleanup: true, help: false });
    expect(parseArgs(['-h']).help).toBe(true);
    expect(() => parseArgs(['--run-dir'])).toThrow(/--run-dir: needs a folder/);
    expect(() => parseArgs(['--data-dir='])).toThrow(/--data-dir: needs a folder/);
    expect(() => parseArgs(['--bogus'])).toThrow(/unknown argument "--bogus"/);
  });
});

describe('helpers', () => {
  it('tells whether an address is in a range', () => {
    expect(ipInSubnet('10.88.77.2', '10.88.77.0/24')).toBe(true);
    expect(ipInSubnet('10.88.78.2', '10.88.77.0/24')).toBe(false);
    expect(ipInSubnet('10.88.78.2', '10.88.0.0/16')).toBe(true);
  });

  it('reads upper and lower dirs from mount descriptors', () => {
    expect(overlayDirs([{ type: 'overlay', source: 'overlay', options: ['index=off', 'workdir=/s/1/work', 'upperdir=/s/1/fs', 'lowerdir=/l/2:/l/1'] }])).toEqual({
      upper: '/s/1/fs',
      lowers: ['/l/2', '/l/1'],
    });
    expect(overlayDirs([{ type: 'bind', source: '/s/1/fs', options: ['rw', 'rbind'] }])).toEqual({ upper: '/s/1/fs', lowers: [] });
    expect(overlayDirs([])).toEqual({ lowers: [] });
  });

  it('finds mounts at or beneath a folder, not beside it', () => {
    const m = (mountPoint: string): MountEntry => ({ mountPoint, fstype: 'nsfs', source: 'nsfs', root: '/', superOptions: [] });
    const table = [m('/run/demo/netns'), m('/run/demo/netns/pod'), m('/run/demo2'), m('/run')];
    expect(mountsUnder(['/run/demo'], table).map((x) => x.mountPoint)).toEqual(['/run/demo/netns', '/run/demo/netns/pod']);
    expect(mountsUnder(['/run/demo/'], table)).toHaveLength(2);
  });

  it('identifies processes by pid and start time', () => {
    const me = processRef(process.pid, 'me');
    expect(me?.startTime).toMatch(/^\d+$/);
    expect(alive(me as NonNullable<typeof me>)).toBe(true);
    expect(alive({ pid: process.pid, startTime: '1', what: 'reused pid' })).toBe(false);
    expect(startTimeOf(2 ** 22 + 1)).toBeUndefined();
  });

  it('never treats this process or PID 1 namespaces as the demo ones', () => {
    const own = ['net', 'pid', 'mnt', 'uts', 'ipc'].map((t) => nsIdentity('self', t) as string);
    expect(own.every((x) => /^\w+:\[\d+\]$/.test(x))).toBe(true);
    expect(foreignNamespaces([...own, 'net:[1]', 'garbage', 'net:[x]'])).toEqual(['net:[1]']);
  });

  it('maps a relative cgroupsPath beneath our own cgroups only', () => {
    expect(() => cgroupDirsFor('/abs')).toThrow(/relative/);
    expect(() => cgroupDirsFor('a/../../b')).toThrow(/relative/);
    for (const d of cgroupDirsFor('podkit-demo-x')) expect(d).toMatch(/\/podkit-demo-x$/);
  });

  it('counts host-local lease files (addresses), not its bookkeeping', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-demo-ipam-'));
    try {
      fs.mkdirSync(path.join(dir, 'net1'));
      for (const f of ['10.88.77.2', 'last_reserved_ip.0', 'lock']) fs.writeFileSync(path.join(dir, 'net1', f), '');
      expect(leaseFiles(dir)).toEqual(['net1/10.88.77.2']);
      expect(leaseFiles(path.join(dir, 'missing'))).toEqual([]);
      expect(leaseFiles(undefined)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
