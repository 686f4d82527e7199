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

export const COMMANDS: PodimgCommand[] = [
  pullCommand,
  lsCommand,
  inspectCommand,
  rmCommand,
  unpackCommand,
];
