import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';

function tmux(socket: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('tmux', ['-L', socket, '-f', '/dev/null', ...args], (err, stdout, stderr) => {
      if (err) reject(new Error(`tmux ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/**
 * A private tmux server (its own `-L` socket, no config file) with one pane:
 * a real terminal for reproducing what users do by hand. kill() stops this
 * server only, never another tmux on the machine.
 */
export class TmuxServer {
  private constructor(
    readonly socket: string,
    /** Where tmux put the socket: kill-server leaves the file behind. */
    readonly socketPath: string,
    /** PID of the process the pane runs (its shell). */
    readonly panePid: number,
  ) {}

  /** Starts a detached server whose only pane runs `command` (a shell command line). */
  static async start(command: string): Promise<TmuxServer> {
    const socket = `cryopipe-examples-${process.pid}-${Date.now().toString(36)}`;
    await tmux(socket, ['new-session', '-d', '-x', '160', '-y', '40', command]);
    const [panePid, socketPath] = (
      await tmux(socket, ['display-message', '-p', '#{pane_pid} #{socket_path}'])
    )
      .trim()
      .split(' ');
    return new TmuxServer(socket, socketPath!, Number(panePid));
  }

  /** Types `line` into the pane and presses Enter, as a user would. */
  async type(line: string): Promise<void> {
    await tmux(this.socket, ['send-keys', '-l', line]);
    await tmux(this.socket, ['send-keys', 'Enter']);
  }

  /** What the pane shows. */
  capture(): Promise<string> {
    return tmux(this.socket, ['capture-pane', '-p']);
  }

  /** Ends this server; the pane's processes get SIGHUP. */
  async kill(): Promise<void> {
    await tmux(this.socket, ['kill-server']).catch(() => {}); // already gone is fine
    rmSync(this.socketPath, { force: true });
  }
}
