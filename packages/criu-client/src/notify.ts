/** A NOTIFY from criu: which action-script point was reached, and for some the root pid. */
export interface CriuNotification {
  /** criu's script name, e.g. `pre-dump`, `post-restore`, `orphan-pts-master`. */
  script: string;
  /** Set by criu on `setup-namespaces` and `post-restore`: the (restored) root pid. */
  pid?: number | undefined;
}

/** What a hook may return: false (or a throw) aborts the operation; criu then leaves the tree running. */
// biome-ignore lint/suspicious/noConfusingVoidType: a hook that returns nothing means "go on".
export type HookResult = void | boolean | Promise<void | boolean>;

/**
 * Callbacks for criu's notifications, all optional (no-op by default).
 * Giving any hook turns criu's notifications on for the request.
 */
export interface NotifyHooks {
  /** Dump: criu is about to freeze and dump the tree. */
  preDump?(n: CriuNotification): HookResult;
  /** Dump: the images are written (before the tree is killed or resumed). */
  postDump?(n: CriuNotification): HookResult;
  /** Restore: criu is about to start restoring. */
  preRestore?(n: CriuNotification): HookResult;
  /** Restore: the tree is restored but not yet resumed; `n.pid` is its root. */
  postRestore?(n: CriuNotification): HookResult;
  /** criu is about to lock the network (dump). */
  networkLock?(n: CriuNotification): HookResult;
  /** criu is about to unlock the network (restore, or dump with leaveRunning). */
  networkUnlock?(n: CriuNotification): HookResult;
  /** Restore: the root's namespaces exist; `n.pid` is the root. */
  setupNamespaces?(n: CriuNotification): HookResult;
  /** Restore: namespaces are set up. */
  postSetupNamespaces?(n: CriuNotification): HookResult;
  /** Restore: the tree is about to be resumed. */
  preResume?(n: CriuNotification): HookResult;
  /** Restore: the tree runs again. */
  postResume?(n: CriuNotification): HookResult;
  /** criu is ready (sent once it has started its work). */
  statusReady?(n: CriuNotification): HookResult;
  /** Before criu talks to an image streamer. */
  preStream?(n: CriuNotification): HookResult;
  /**
   * The new pty master of a restore with `orphanPtsMaster`. The hook owns
   * `fd` (close it when done); without this hook the client closes it.
   */
  orphanPtsMaster?(n: CriuNotification, fd: number | undefined): HookResult;
  /** Dump: return extra `external` entries for criu to treat as external files. */
  queryExtFiles?(
    n: CriuNotification,
    // biome-ignore lint/suspicious/noConfusingVoidType: returning nothing means "no extra externals".
  ): string[] | void | boolean | Promise<string[] | void | boolean>;
  /** Called for every notification before the specific hook (e.g. to log the order). */
  onNotify?(n: CriuNotification): void | Promise<void>;
}

const hookNames = {
  'pre-dump': 'preDump',
  'post-dump': 'postDump',
  'pre-restore': 'preRestore',
  'post-restore': 'postRestore',
  'network-lock': 'networkLock',
  'network-unlock': 'networkUnlock',
  'setup-namespaces': 'setupNamespaces',
  'post-setup-namespaces': 'postSetupNamespaces',
  'pre-resume': 'preResume',
  'post-resume': 'postResume',
  'status-ready': 'statusReady',
  'pre-stream': 'preStream',
  'orphan-pts-master': 'orphanPtsMaster',
  'query-ext-files': 'queryExtFiles',
} as const satisfies Record<string, keyof NotifyHooks>;

/** The outcome of running hooks for one notification. */
export interface HookOutcome {
  ok: boolean;
  /** Extra externals returned by queryExtFiles. */
  external?: string[] | undefined;
  /** What the hook threw, when it threw. */
  error?: unknown;
  /** The descriptor was handed to the orphanPtsMaster hook, which now owns it. */
  fdTaken: boolean;
}

/** Runs the hook for `n`; unknown scripts are acknowledged (criu may add new ones). */
export async function runHook(
  hooks: NotifyHooks,
  n: CriuNotification,
  fd: number | undefined,
): Promise<HookOutcome> {
  const name = (hookNames as Record<string, keyof NotifyHooks>)[n.script];
  let fdTaken = false;
  try {
    await hooks.onNotify?.(n);
    if (name === 'orphanPtsMaster' && hooks.orphanPtsMaster) {
      fdTaken = true;
      return { ok: (await hooks.orphanPtsMaster(n, fd)) !== false, fdTaken };
    }
    if (name === 'queryExtFiles' && hooks.queryExtFiles) {
      const result = await hooks.queryExtFiles(n);
      if (Array.isArray(result)) return { ok: true, external: result, fdTaken };
      return { ok: result !== false, fdTaken };
    }
    const hook = name
      ? (hooks[name] as ((n: CriuNotification) => HookResult) | undefined)
      : undefined;
    const result = await hook?.call(hooks, n);
    return { ok: result !== false, fdTaken };
  } catch (error) {
    return { ok: false, error, fdTaken };
  }
}
