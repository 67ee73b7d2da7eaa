import { mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where jobs live: CRYOPIPE_HOME, else /var/lib/cryopipe for root, else
 * $XDG_STATE_HOME/cryopipe (~/.local/state/cryopipe).
 */
export function cryopipeHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CRYOPIPE_HOME) return env.CRYOPIPE_HOME;
  if (process.getuid?.() === 0) return '/var/lib/cryopipe';
  const state = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(state, 'cryopipe');
}

/**
 * mkdir -p with mode 0700 on every directory we create: job directories hold
 * checkpoint images, that is process memory. An existing directory is left
 * as it is (the permission check on restore reports it if it is unsafe).
 */
export function mkdirPrivate(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  return path;
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
