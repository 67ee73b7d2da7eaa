import { type ChildProcess, spawn } from 'node:child_process';
import { closeQuietly, SeqpacketSocket } from './seqpacket-socket.ts';

/** One connection to a criu worker: a swrk child, or a `criu service` connection. */
export interface Connection {
  socket: SeqpacketSocket;
  /** What the worker printed on stderr so far (swrk only). */
  stderr(): string;
  /** How the worker ended, once it has (swrk only), e.g. `exit code 1`. */
  exitStatus(): string | undefined;
  close(): void;
}

export interface Transport {
  readonly kind: 'swrk' | 'service';
  /** Opens a connection; `extraFds` are descriptors of ours that criu should inherit as 4, 5, … (swrk only). */
  open(extraFds: readonly number[]): Connection;
}

const STDERR_LIMIT = 64 * 1024;

/** `criu swrk 3`: a fresh criu child per connection, the socket's other end as its fd 3. */
export class SwrkTransport implements Transport {
  readonly kind = 'swrk';
  constructor(
    readonly criuPath: string,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  open(extraFds: readonly number[]): Connection {
    const { socket, peerFd } = SeqpacketSocket.pair();
    let child: ChildProcess;
    try {
      child = spawn(this.criuPath, ['swrk', '3'], {
        stdio: ['ignore', 'ignore', 'pipe', peerFd, ...extraFds],
        env: this.env,
      });
    } finally {
      closeQuietly(peerFd);
    }
    let stderr = '';
    let status: string | undefined;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      if (stderr.length < STDERR_LIMIT) stderr += chunk;
    });
    child.on('error', (err) => {
      status = `failed to start: ${err.message}`;
      socket.close();
    });
    child.on('exit', (code, signal) => {
      status = signal ? `killed by ${signal}` : `exit code ${code}`;
    });
    // An idle keep-open session must not keep the Node process alive; a
    // pending receive() does (the addon's poll handle is referenced).
    child.unref();
    (child.stderr as { unref?: () => void } | null)?.unref?.();
    return {
      socket,
      stderr: () => stderr.trim(),
      exitStatus: () => status,
      close: () => socket.close(),
    };
  }
}

/** A `criu service` listening on a SOCK_SEQPACKET socket path; it forks a worker per connection. */
export class ServiceTransport implements Transport {
  readonly kind = 'service';
  constructor(readonly socketPath: string) {}

  open(extraFds: readonly number[]): Connection {
    if (extraFds.length > 0) {
      throw new Error(
        'inheritFd needs the swrk transport: a criu service cannot inherit our descriptors',
      );
    }
    const socket = SeqpacketSocket.connect(this.socketPath);
    return { socket, stderr: () => '', exitStatus: () => undefined, close: () => socket.close() };
  }
}
