import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isAlreadyExists, isDataLoss, isInvalidArgument, isNotFound } from '@podkit/errdefs';
import { pidfdInode, pidfdOpen, readProcStat } from '../sys/process';
import { checkId, rfc3339Nano, StateStore, writeFileAtomic, type StateRecord } from './store';

describe('StateStore', () => {
  let root: string;
  let store: StateStore;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-store-'));
    store = new StateStore(root);
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  function record(over: Partial<StateRecord> = {}): StateRecord {
    const fd = pidfdOpen(process.pid);
    const ino = pidfdInode(fd);
    fs.closeSync(fd);
    return {
      version: 1,
      id: 'c1',
      bundle: '/b',
      rootfs: '/b/rootfs',
      pid: process.pid,
      startTime: readProcStat(process.pid)?.startTime ?? '',
      pidfdInode: ino,
      created: new Date(0).toISOString(),
      cgroupPaths: {},
      namespaces: ['pid'],
      ownPidNamespace: true,
      process: { cwd: '/', args: ['true'] },
      ...over,
    };
  }

  it('reserves an id once and validates ids', () => {
    store.reserve('c1');
    let err: unknown;
    try {
      store.reserve('c1');
    } catch (e) {
      err = e;
    }
    expect(isAlreadyExists(err)).toBe(true);
    for (const bad of ['', '..', 'a/b', 'a b']) expect(() => checkId(bad)).toThrow(/container id/);
    try {
      checkId('x/y');
    } catch (e) {
      expect(isInvalidArgument(e)).toBe(true);
    }
  });

  it('saves atomically, loads, lists and removes', () => {
    store.reserve('c1');
    store.save(record());
    expect(store.load('c1')).toEqual(record());
    expect(store.ids()).toEqual(['c1']);
    expect(fs.readdirSync(store.dir('c1'))).toEqual(['state.json']);
    store.remove('c1');
    expect(store.ids()).toEqual([]);
    let err: unknown;
    try {
      store.load('c1');
    } catch (e) {
      err = e;
    }
    expect(isNotFound(err)).toBe(true);
  });

  it('derives the status from the process: creating, created, running, stopped', () => {
    store.reserve('c1');
    expect(store.status(record({ pid: 0 }))).toBe('creating');
    expect(store.status(record())).toBe('running');
    fs.writeFileSync(store.fifo('c1'), '');
    expect(store.status(record())).toBe('created');
    // A different start time or pidfd inode means the pid now belongs to another process.
    expect(store.status(record({ startTime: '1' }))).toBe('stopped');
    expect(store.status(record({ pidfdInode: '1' }))).toBe('stopped');
    expect(store.status(record({ pid: 2 ** 30 }))).toBe('stopped');
    expect(() => store.openProcess(record({ pidfdInode: '1' }))).toThrow(/now belongs to another process/);
  });

  it('removes a folder with every file a container leaves (record, exec FIFO, temp files), and a missing one', () => {
    store.reserve('c1');
    store.save(record());
    fs.writeFileSync(store.fifo('c1'), '');
    fs.writeFileSync(path.join(store.dir('c1'), '.state.json.1.tmp'), '');
    store.remove('c1');
    expect(fs.existsSync(store.dir('c1'))).toBe(false);
    expect(() => store.remove('c1')).not.toThrow();
  });

  it('reports a torn record as DataLoss, which delete --force removes', async () => {
    const { deleteContainer } = require('./delete') as typeof import('./delete');
    store.reserve('c1');
    fs.writeFileSync(path.join(store.dir('c1'), 'state.json'), '{"version":1,"id":');
    let err: unknown;
    try {
      store.load('c1');
    } catch (e) {
      err = e;
    }
    expect(isDataLoss(err)).toBe(true);
    expect((err as Error).message).toMatch(/state record is unreadable.*delete --force/);
    await expect(deleteContainer(store, 'c1')).rejects.toThrow(/unreadable/);
    await deleteContainer(store, 'c1', { force: true });
    expect(store.ids()).toEqual([]);
  });

  it('dates records in RFC 3339 with nanoseconds, close to the wall clock', () => {
    const before = Date.now();
    const created = rfc3339Nano();
    expect(created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}000Z$/);
    const ms = Date.parse(created.replace(/\d{6}Z$/, 'Z'));
    expect(ms).toBeGreaterThanOrEqual(before - 1);
    expect(ms).toBeLessThanOrEqual(Date.now() + 1);
    expect(rfc3339Nano(Date.UTC(2020, 0, 2, 3, 4, 5, 6) + 0.789)).toBe('2020-01-02T03:04:05.006789000Z');
  });

  it('writeFileAtomic leaves no temp file', () => {
    const f = path.join(root, 'x.json');
    writeFileAtomic(f, '{"a":1}');
    writeFileAtomic(f, '{"a":2}');
    expect(fs.readFileSync(f, 'utf8')).toBe('{"a":2}');
    expect(fs.readdirSync(root)).toEqual(['x.json']);
  });
});

describe('exec env merging', () => {
  it('lets later entries replace earlier ones by key', () => {
    const { mergeEnv } = require('./exec') as typeof import('./exec');
    expect(mergeEnv(['PATH=/bin', 'A=1', 'B=2'], ['A=3', 'C=4'])).toEqual(['PATH=/bin', 'A=3', 'B=2', 'C=4']);
  });
});

describe('delete --force of a half-created container', () => {
  it('clears a folder without a record and a "creating" record', async () => {
    const { deleteContainer } = require('./delete') as typeof import('./delete');
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-store-'));
    try {
      const store = new StateStore(root);
      store.reserve('bare');
      await expect(deleteContainer(store, 'bare')).rejects.toThrow(/does not exist/);
      await deleteContainer(store, 'bare', { force: true });
      expect(fs.existsSync(store.dir('bare'))).toBe(false);
      store.reserve('half');
      store.save(
        { version: 1, id: 'half', bundle: '/b', rootfs: '/b/rootfs', pid: 0, startTime: '0', pidfdInode: '0', created: '', cgroupPaths: {}, namespaces: [], ownPidNamespace: true, process: { cwd: '/' } },
        false,
      );
      expect(store.status(store.load('half'))).toBe('creating');
      await expect(deleteContainer(store, 'half')).rejects.toThrow(/that is creating/);
      await deleteContainer(store, 'half', { force: true });
      expect(store.ids()).toEqual([]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
