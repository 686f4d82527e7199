/**
 * Every podimg command, in the order `podimg --help` lists them. To add a command: write
 * ./<name>.ts exporting a `PodimgCommand` (see ../common.ts) and add one import and one entry here.
 */
import type { PodimgCommand } from '../common';
import { pullCommand } from './pull';
import { lsCommand } from './ls';
import { inspectCommand } from './inspect';
import { rmCommand } from './rm';
import { unpackCommand } from './unpack';
import { tagCommand } from './tag';
import { snapshotCommand } from './snapshot';
import { gcCommand } from './gc';
import { dfCommand } from './df';
import { loginCommand } from './login';
import { logoutCommand } from './logout';
import { pushCommand } from './push';
import { importCommand } from './import';
import { exportCommand } from './export';
import { copyCommand } from './copy';

export const COMMANDS: PodimgCommand[] = [
  pullCommand,
  lsCommand,
  inspectCommand,
  rmCommand,
  unpackCommand,
  tagCommand,
  snapshotCommand,
  gcCommand,
  dfCommand,
  loginCommand,
  logoutCommand,
  pushCommand,
  importCommand,
  exportCommand,
  copyCommand,
];
