import type { Command } from '../command.ts';
import { adopt } from './adopt.ts';
import { attach } from './attach.ts';
import { checkpoint } from './checkpoint.ts';
import { completion } from './completion.ts';
import { diagnose } from './diagnose.ts';
import { doctor } from './doctor.ts';
import { exportCommand } from './export.ts';
import { importCommand } from './import.ts';
import { inspect } from './inspect.ts';
import { key } from './key.ts';
import { kill } from './kill.ts';
import { logs } from './logs.ts';
import { ps } from './ps.ts';
import { restore } from './restore.ts';
import { rm } from './rm.ts';
import { run } from './run.ts';
import { schedule } from './schedule.ts';
import { wait } from './wait.ts';

/**
 * Every command, loaded: the library's view (`import { commands } from
 * '@cryopipe/cli'`). The `cryopipe` binary loads one at a time instead
 * (./index.ts). In the order `cryopipe --help` lists them.
 */
export const commands: readonly Command[] = [
  run,
  ps,
  checkpoint,
  restore,
  inspect,
  logs,
  wait,
  kill,
  rm,
  schedule,
  exportCommand,
  importCommand,
  key,
  doctor,
  diagnose,
  adopt,
  attach,
  completion,
];
