import { blockingFindings, diagnoseTree, formatFindings } from '@cryopipe/jobs';
import { ProcfsError } from '@cryopipe/procfs';
import type { Command } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import { plural } from '../text.ts';

export const diagnose: Command = {
  name: 'diagnose',
  summary: "explain why an existing process tree can or can't be checkpointed, and how to fix it",
  usage: 'PID',
  description: `Reads /proc for the tree under PID: terminals, sessions, pipes and sockets whose
other end is outside the tree, descriptors CRIU can't dump, deleted and
writable files, namespaces. Each finding has a severity (blocker, warning,
info), the evidence (pid, fd, target), CRIU's own words for it, and the fix.
Exits 0 when nothing blocks a dump, 1 when something does.`,
  options: {},
  examples: ['cryopipe diagnose 4242', 'cryopipe diagnose $(pgrep -o ffmpeg) --json'],
  async run({ positionals, out }) {
    const pid = Number(positionals[0]);
    if (!Number.isInteger(pid) || pid <= 0) {
      throw new CliError(
        `diagnose needs a process id, not '${positionals[0] ?? ''}'`,
        EXIT.usage,
        'find one with pgrep or ps, e.g. cryopipe diagnose $(pgrep -o ffmpeg)',
      );
    }
    let findings: Awaited<ReturnType<typeof diagnoseTree>>;
    try {
      findings = await diagnoseTree(pid);
    } catch (err) {
      if (ProcfsError.is(err) && err.code === 'NOT_FOUND')
        throw new CliError(`no process ${pid}`, EXIT.notFound);
      throw err;
    }
    const blockers = blockingFindings(findings);
    out.result({ pid, dumpable: blockers.length === 0, findings });
    if (findings.length === 0) out.line(`pid ${pid}: nothing stands in the way of a checkpoint`);
    else {
      out.line(
        blockers.length
          ? `pid ${pid}: ${plural(blockers.length, 'problem blocks', 'problems block')} a checkpoint`
          : `pid ${pid}: nothing blocks a checkpoint`,
      );
      out.line(formatFindings(findings));
    }
    return blockers.length ? EXIT.failure : EXIT.ok;
  },
};
