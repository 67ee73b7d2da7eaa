import type { Command } from '../command.ts';

// Each command is its own module, loaded only when it runs: `cryopipe ps`
// must not pay for protobuf, criu-client and the archive code that
// `checkpoint` or `export` need (tsup splits the bundle at these imports).
// The list (in the order `cryopipe --help` shows them) names them without
// loading them; help loads all.
const loaders = {
  run: () => import('./run.ts').then((m) => m.run),
  ps: () => import('./ps.ts').then((m) => m.ps),
  checkpoint: () => import('./checkpoint.ts').then((m) => m.checkpoint),
  restore: () => import('./restore.ts').then((m) => m.restore),
  inspect: () => import('./inspect.ts').then((m) => m.inspect),
  logs: () => import('./logs.ts').then((m) => m.logs),
  wait: () => import('./wait.ts').then((m) => m.wait),
  kill: () => import('./kill.ts').then((m) => m.kill),
  rm: () => import('./rm.ts').then((m) => m.rm),
  schedule: () => import('./schedule.ts').then((m) => m.schedule),
  export: () => import('./export.ts').then((m) => m.exportCommand),
  import: () => import('./import.ts').then((m) => m.importCommand),
  key: () => import('./key.ts').then((m) => m.key),
  migrate: () => import('./migrate.ts').then((m) => m.migrate),
  receive: () => import('./receive.ts').then((m) => m.receive),
  doctor: () => import('./doctor.ts').then((m) => m.doctor),
  diagnose: () => import('./diagnose.ts').then((m) => m.diagnose),
  adopt: () => import('./adopt.ts').then((m) => m.adopt),
  attach: () => import('./attach.ts').then((m) => m.attach),
  slurm: () => import('./slurm.ts').then((m) => m.slurm),
  completion: () => import('./completion.ts').then((m) => m.completion),
} satisfies Record<string, () => Promise<Command>>;

/** Every command's name, in the order `cryopipe --help` lists them. */
export const commandNames = Object.keys(loaders) as readonly (keyof typeof loaders)[];

/** The command called `name`, loading only its module; undefined for an unknown name. */
export function loadCommand(name: string): Promise<Command> | undefined {
  return Object.hasOwn(loaders, name) ? loaders[name as keyof typeof loaders]() : undefined;
}

/** Every command (loads them all: for help and for the library's `commands`). */
export function loadCommands(): Promise<Command[]> {
  return Promise.all(commandNames.map((name) => loaders[name]()));
}
