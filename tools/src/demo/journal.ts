/**
 * The demo's journal: a JSON file under the run dir that records every object the demo is about to
 * create, written atomically (temp file, fsync, rename, fsync dir) *before* the object exists. A demo
 * killed with -9 at any instant therefore leaves a journal that names everything it may have made, and
 * the next run's teardown (the same code as the normal teardown) removes it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError } from '@podkit/errdefs';

export const JOURNAL_FILE = 'demo-state.json';
export const JOURNAL_VERSION = 1;

/** A process, identified by pid and start time (/proc/<pid>/stat field 22) so a reused pid is never hit. */
export interface ProcessRef {
  pid: number;
  startTime: string;
  what: string;
}

export interface ContainerEntry {
  /** Container id in the runtime's state root. */
  id: string;
  bundle: string;
  rootfs: string;
  /** Snapshot key of its writable overlay. */
  snapshot: string;
  /** The config's relative cgroupsPath. */
  cgroupsPath: string;
  /** The cgroup directories the runtime will create (computed before create, as the runtime does). */
  cgroupDirs: string[];
}

export interface CniAttachment {
  network: string;
  containerId: string;
  ifName: string;
  /** The conflist's bytes, so DEL can run without the original file. */
  conflist: string;
}

export interface Journal {
  version: number;
  /** The demo process that wrote it. */
  owner: ProcessRef;
  runDir: string;
  dataDir: string;
  /** Temporary folders outside the roots (the registry's storage). */
  tempDirs: string[];
  /** `docker-registry serve <config>` processes are found again by their config path. */
  registryConfigs: string[];
  processes: ProcessRef[];
  /** Pinned network namespace paths. */
  netns: string[];
  cni: CniAttachment[];
  /** host-local's lease folder. */
  ipamDir?: string;
  /** Host-side veth names reported by the bridge plugin. */
  veths: string[];
  containers: ContainerEntry[];
  /** Namespace identities (`net:[4026…]`) that must have no holder once torn down. */
  namespaces: string[];
  /** The image store root and the image reference pulled into it. */
  imageStoreRoot?: string;
  images: string[];
}

export function emptyJournal(runDir: string, dataDir: string, owner: ProcessRef): Journal {
  return {
    version: JOURNAL_VERSION,
    owner,
    runDir,
    dataDir,
    tempDirs: [],
    registryConfigs: [],
    processes: [],
    netns: [],
    cni: [],
    veths: [],
    containers: [],
    namespaces: [],
    images: [],
  };
}

const ARRAYS = ['tempDirs', 'registryConfigs', 'processes', 'netns', 'cni', 'veths', 'containers', 'namespaces', 'images'] as const;

/** Checks a parsed journal; names the field of the first problem. */
export function parseJournal(doc: unknown, file: string): Journal {
  const bad = (field: string, reason: string): never => {
    throw new InvalidArgumentError(`${file}: ${field}: ${reason}`, { details: { field } });
  };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return bad('/', 'must be an object');
  const j = doc as Record<string, unknown>;
  if (j['version'] !== JOURNAL_VERSION) bad('/version', `unsupported version ${JSON.stringify(j['version'])} (want ${JOURNAL_VERSION})`);
  for (const k of ['runDir', 'dataDir'] as const) {
    if (typeof j[k] !== 'string' || !path.isAbsolute(j[k] as string)) bad(`/${k}`, 'must be an absolute path');
  }
  for (const k of ARRAYS) if (!Array.isArray(j[k])) bad(`/${k}`, 'must be an array');
  (j['containers'] as unknown[]).forEach((c, i) => {
    const e = c as Partial<ContainerEntry>;
    if (typeof e?.id !== 'string' || typeof e.bundle !== 'string' || typeof e.rootfs !== 'string' || typeof e.snapshot !== 'string' || !Array.isArray(e.cgroupDirs)) {
      bad(`/containers/${i}`, 'must have id, bundle, rootfs, snapshot and cgroupDirs');
    }
  });
  (j['processes'] as unknown[]).forEach((p, i) => {
    const e = p as Partial<ProcessRef>;
    if (!Number.isInteger(e?.pid) || (e.pid as number) <= 0 || typeof e.startTime !== 'string') bad(`/processes/${i}`, 'must have a positive pid and a startTime');
  });
  (j['cni'] as unknown[]).forEach((a, i) => {
    const e = a as Partial<CniAttachment>;
    if (typeof e?.network !== 'string' || typeof e.containerId !== 'string' || typeof e.ifName !== 'string' || typeof e.conflist !== 'string') {
      bad(`/cni/${i}`, 'must have network, containerId, ifName and conflist');
    }
  });
  return doc as Journal;
}

function writeAtomic(file: string, data: string): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  const dfd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

/** The journal file of a run dir, with `record()` to add an entry durably before acting on it. */
export class JournalFile {
  readonly file: string;

  constructor(
    readonly runDir: string,
    public data: Journal,
  ) {
    this.file = path.join(runDir, JOURNAL_FILE);
  }

  /** Reads the journal a previous run left, or undefined when there is none. */
  static read(runDir: string): JournalFile | undefined {
    const file = path.join(runDir, JOURNAL_FILE);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new InvalidArgumentError(`${file}: not valid JSON: ${(err as Error).message}`);
    }
    return new JournalFile(runDir, parseJournal(doc, file));
  }

  /** Applies `change` and writes the journal durably; call it before creating what it records. */
  record(change: (j: Journal) => void): void {
    change(this.data);
    fs.mkdirSync(this.runDir, { recursive: true, mode: 0o700 });
    writeAtomic(this.file, `${JSON.stringify(this.data, null, 2)}\n`);
  }

  remove(): void {
    fs.rmSync(this.file, { force: true });
  }
}
