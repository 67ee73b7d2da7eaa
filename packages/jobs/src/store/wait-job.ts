import type { JobRef, JobStore } from './job-store.ts';
import { jobLiveness, type Liveness } from './liveness.ts';

/**
 * Waits until the job is no longer running — it finished, was checkpointed,
 * or vanished — polling /proc and the run status: after a restore the job is
 * not our child, so waitpid can't be used.
 */
export async function waitForJob(
  store: JobStore,
  ref: JobRef,
  options: { signal?: AbortSignal; pollMs?: number } = {},
): Promise<
  Liveness & {
    /** The pipeline's exit status. */
    exitCode: number;
  }
> {
  const { id } = store.resolve(ref);
  for (;;) {
    options.signal?.throwIfAborted();
    const fresh = store.load(id); // a restore elsewhere may have changed the root pid
    const live = await jobLiveness(store, fresh);
    if (!live.alive) {
      const code = live.exitCode ?? (live.state === 'checkpointed' ? 0 : 1);
      return { ...live, exitCode: code };
    }
    await new Promise((r) => setTimeout(r, options.pollMs ?? 200));
  }
}
