/**
 * Test support: a fake resctrl filesystem in a temporary directory, with the files a kernel shows
 * (`info/L3`, `info/MB`, `info/L3_MON/mon_features`, the root group's `schemata` and `tasks`), and a
 * `ResctrlFs` over it that behaves like resctrl where it matters: `mkdir` makes a group with the
 * root's schemata and an empty `tasks`; a `schemata` write updates the lines of the resources it
 * names and fails with EINVAL (and a reason in info/last_cmd_status) for an unknown resource or
 * domain; a `tasks` write adds the pid.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { realResctrlFs, type ResctrlFs } from './resctrl';

export interface FakeResctrlOptions {
  cat?: boolean;
  mba?: boolean;
  /** info/L3_MON/mon_features (none: no monitoring). */
  monFeatures?: string[];
}

export interface FakeResctrl {
  root: string;
  fs: ResctrlFs;
  read(rel: string): string;
  cleanup(): void;
}

export function makeFakeResctrl(opts: FakeResctrlOptions = {}): FakeResctrl {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'podkit-resctrl-'));
  const info = path.join(root, 'info');
  fs.mkdirSync(info);
  fs.writeFileSync(path.join(info, 'last_cmd_status'), 'ok\n');
  const lines: string[] = [];
  if (opts.cat ?? true) {
    fs.mkdirSync(path.join(info, 'L3'));
    fs.writeFileSync(path.join(info, 'L3', 'cbm_mask'), 'fff\n');
    lines.push('L3:0=fff;1=fff');
  }
  if (opts.mba ?? true) {
    fs.mkdirSync(path.join(info, 'MB'));
    fs.writeFileSync(path.join(info, 'MB', 'min_bandwidth'), '10\n');
    lines.push('MB:0=100;1=100');
  }
  if (opts.monFeatures) {
    fs.mkdirSync(path.join(info, 'L3_MON'));
    fs.writeFileSync(path.join(info, 'L3_MON', 'mon_features'), `${opts.monFeatures.join('\n')}\n`);
  }
  fs.writeFileSync(path.join(root, 'schemata'), `${lines.join('\n')}\n`);
  fs.writeFileSync(path.join(root, 'tasks'), '');
  const fail = (code: string, msg: string) => Object.assign(new Error(`${code}: ${msg}`), { code });

  const fake: ResctrlFs = {
    exists: realResctrlFs.exists,
    read: realResctrlFs.read,
    mkdir(p) {
      if (path.dirname(p) !== root) throw fail('EPERM', `mkdir ${p}: resctrl groups live in the root`);
      fs.mkdirSync(p);
      fs.writeFileSync(path.join(p, 'schemata'), fs.readFileSync(path.join(root, 'schemata')));
      fs.writeFileSync(path.join(p, 'tasks'), '');
    },
    rmdir(p) {
      fs.rmSync(p, { recursive: true });
    },
    write(p, value) {
      if (!fs.existsSync(p)) throw fail('ENOENT', p);
      const file = path.basename(p);
      if (file === 'tasks') {
        fs.appendFileSync(p, `${value.trim()}\n`);
        return;
      }
      if (file !== 'schemata') return realResctrlFs.write(p, value);
      const have = new Map(
        fs
          .readFileSync(p, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)] as [string, string]),
      );
      for (const l of value.split('\n').filter(Boolean)) {
        const res = l.slice(0, l.indexOf(':'));
        const cur = have.get(res);
        if (cur === undefined) {
          fs.writeFileSync(path.join(info, 'last_cmd_status'), `Unknown or unsupported resource name '${res}'\n`);
          throw fail('EINVAL', `write ${p}`);
        }
        const doms = new Map(cur.split(';').map((d) => d.split('=') as [string, string]));
        for (const d of l.slice(l.indexOf(':') + 1).split(';')) {
          const [k, v] = d.split('=').map((x) => x.trim()) as [string, string];
          if (!doms.has(k)) {
            fs.writeFileSync(path.join(info, 'last_cmd_status'), `Unknown domain id ${k}\n`);
            throw fail('EINVAL', `write ${p}`);
          }
          doms.set(k, v);
        }
        have.set(res, [...doms].map(([k, v]) => `${k}=${v}`).join(';'));
      }
      fs.writeFileSync(p, `${[...have].map(([k, v]) => `${k}:${v}`).join('\n')}\n`);
      fs.writeFileSync(path.join(info, 'last_cmd_status'), 'ok\n');
    },
  };
  return { root, fs: fake, read: (rel) => fs.readFileSync(path.join(root, rel), 'utf8'), cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}
