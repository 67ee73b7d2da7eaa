import { PipelineError } from './errors.ts';
import type { PipelineResult, StageResult } from './result.ts';
import type { RunStatus, StageStatus } from './run-status.ts';
import { commandOf } from './spec.ts';

function toStageResult(stage: StageStatus): StageResult {
  const code = stage.exitCode ?? 0;
  return {
    index: stage.index,
    command: commandOf(stage.argv),
    argv: stage.argv,
    pid: stage.pid,
    hostPid: stage.hostPid,
    exitCode: stage.exitCode,
    signal: stage.signal,
    execError: stage.execError,
    durationMs: Math.max(0, (stage.endedAt ?? 0) - (stage.startedAt ?? 0)),
    failed: stage.signal !== undefined || code !== 0,
  };
}

/** Turns a final status into a result, or throws the PipelineError naming the failing stage. */
export function settle(runDir: string, status: RunStatus): PipelineResult {
  const stages = status.stages.map(toStageResult);
  const command = stages.map((s) => s.command).join(' | ');
  const durationMs = Math.max(0, (status.endedAt ?? 0) - status.startedAt);
  const exitCode = status.exitCode ?? 0;
  if (exitCode === 0) return { runDir, command, exitCode: 0, durationMs, stages };
  const failedStage = stages.findLast((s) => s.failed) ?? stages[stages.length - 1]!;
  throw new PipelineError({ runDir, command, exitCode, failedStage, stages, durationMs });
}
