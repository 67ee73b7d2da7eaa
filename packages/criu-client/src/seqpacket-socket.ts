import { loadAddon, type NativeReader } from './native.ts';

/** One message from CRIU: its bytes and any descriptors passed with it (SCM_RIGHTS). */
export interface ReceivedMessage {
  data: Uint8Array;
  fds: number[];
}

/**
 * A connected SOCK_SEQPACKET socket: whole messages out, whole messages in,
 * read on Node's event loop through the addon. Reading (which keeps the
 * process alive) runs only while a `receive()` is pending.
 */
export class SeqpacketSocket {
  readonly fd: number;
  #reader: NativeReader;
  #queue: ReceivedMessage[] = [];
  #waiter: { resolve: (m: ReceivedMessage) => void; reject: (e: Error) => void } | undefined;
  #ended: Error | undefined;
  #closed = false;

  constructor(fd: number) {
    this.fd = fd;
    this.#reader = new (loadAddon().Reader)(fd, (err, data, fds) =>
      this.#onMessage(err, data, fds),
    );
  }

  /** A socket connected to a `criu service` listening on `path`. */
  static connect(path: string): SeqpacketSocket {
    return new SeqpacketSocket(loadAddon().connect(path));
  }

  /** Both ends of a fresh socketpair: ours, and the raw fd to hand to `criu swrk`. */
  static pair(): { socket: SeqpacketSocket; peerFd: number } {
    const [ours, theirs] = loadAddon().socketpair();
    return { socket: new SeqpacketSocket(ours), peerFd: theirs };
  }

  send(message: Uint8Array): void {
    if (this.#closed) throw new Error('CRIU socket is closed');
    loadAddon().send(this.fd, message);
  }

  /** The next message; rejects when the peer hangs up or the socket fails. */
  receive(): Promise<ReceivedMessage> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#ended) return Promise.reject(this.#ended);
    if (this.#closed) return Promise.reject(new Error('CRIU socket is closed'));
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
      this.#reader.start();
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reader.close();
    loadAddon().close(this.fd);
    for (const message of this.#queue) for (const fd of message.fds) closeQuietly(fd);
    this.#queue = [];
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(new Error('CRIU socket was closed while waiting for a reply'));
  }

  #onMessage(err: Error | null, data: Buffer | null, fds: number[]): void {
    if (err || !data) {
      this.#ended = err ?? new Error('criu closed the connection');
    } else {
      this.#queue.push({ data, fds });
    }
    const waiter = this.#waiter;
    if (!waiter) {
      this.#reader.stop();
      return;
    }
    const next = this.#queue.shift();
    if (next) {
      this.#waiter = undefined;
      this.#reader.stop();
      waiter.resolve(next);
    } else if (this.#ended) {
      this.#waiter = undefined;
      waiter.reject(this.#ended);
    }
  }
}

export function closeQuietly(fd: number): void {
  try {
    loadAddon().close(fd);
  } catch {}
}
