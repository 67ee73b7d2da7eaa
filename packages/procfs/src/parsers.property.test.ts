import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAuxv } from './auxv.ts';
import { parseCgroup } from './cgroup.ts';
import { parseChildren } from './children.ts';
import { parseCmdline } from './cmdline.ts';
import { classifyDescriptor } from './descriptor.ts';
import { parseEnviron } from './environ.ts';
import { ProcfsError } from './errors.ts';
import { parseFdInfo } from './fdinfo.ts';
import { fixtureText } from './fixture.ts';
import { parseLimits } from './limits.ts';
import { parseMaps } from './maps.ts';
import { parseMountInfo } from './mountinfo.ts';
import { parseNetInet } from './net-inet.ts';
import { parseNetNetlink } from './net-netlink.ts';
import { parseNetUnix } from './net-unix.ts';
import { parseNamespaceLink } from './ns.ts';
import { parseStat } from './stat.ts';
import { parseStatus } from './status.ts';
import { parseSystemStat } from './system-stat.ts';
import { decodeTtyNr } from './tty.ts';

// Every parser, fed arbitrary text and mangled real files, either returns or throws a ProcfsError.
const parsers: Record<string, [(text: string) => unknown, string]> = {
  stat: [(t) => parseStat(t), '100/stat'],
  status: [(t) => parseStatus(t), '100/status'],
  fdinfo: [(t) => parseFdInfo(t), '100/fdinfo/eventfd'],
  maps: [(t) => parseMaps(t), '100/maps'],
  mountinfo: [(t) => parseMountInfo(t), '100/mountinfo'],
  cgroup: [(t) => parseCgroup(t), '100/cgroup'],
  limits: [(t) => parseLimits(t), '100/limits'],
  children: [(t) => parseChildren(t), '100/task/100/children'],
  systemStat: [(t) => parseSystemStat(t), 'stat'],
  netUnix: [(t) => parseNetUnix(t), '100/net/unix'],
  netInet: [(t) => parseNetInet(t), '100/net/tcp6'],
  netNetlink: [(t) => parseNetNetlink(t), '100/net/netlink'],
  cmdline: [(t) => parseCmdline(t), '100/cmdline'],
  environ: [(t) => parseEnviron(t), '100/environ'],
  nsLink: [(t) => parseNamespaceLink(t), '100/task/100/children'],
  descriptor: [(t) => classifyDescriptor({ fd: 3, target: t }), '100/cmdline'],
};

function onlyProcfsErrors(parse: (text: string) => unknown, text: string): boolean {
  try {
    parse(text);
    return true;
  } catch (err) {
    if (!ProcfsError.is(err)) throw err;
    expect(err.code).toBe('PARSE');
    return true;
  }
}

/** A real file cut at some point, with some characters replaced. */
const mangled = (base: string) =>
  fc
    .tuple(
      fc.nat({ max: base.length }),
      fc.array(
        fc.tuple(fc.nat({ max: Math.max(0, base.length - 1) }), fc.string({ maxLength: 3 })),
        { maxLength: 4 },
      ),
    )
    .map(([cut, edits]) => {
      let text = base.slice(0, cut);
      for (const [at, s] of edits) text = text.slice(0, at) + s + text.slice(at + 1);
      return text;
    });

describe('every parser on hostile input', () => {
  for (const [name, [parse, fixture]] of Object.entries(parsers)) {
    it(`${name}: arbitrary text only ever yields a PARSE ProcfsError`, () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (t) =>
          onlyProcfsErrors(parse, t),
        ),
        { numRuns: 300 },
      );
    });
    it(`${name}: truncated and mangled real files only ever yield a PARSE ProcfsError`, () => {
      const base = fixtureText(fixture);
      fc.assert(
        fc.property(mangled(base), (t) => onlyProcfsErrors(parse, t)),
        { numRuns: 300 },
      );
    });
  }

  it('stat: any comm round-trips, however many parentheses, spaces or newlines it has', () => {
    const rest = fixtureText('100/stat').slice(fixtureText('100/stat').lastIndexOf(')') + 1);
    fc.assert(
      fc.property(fc.string({ maxLength: 15 }), (comm) => {
        expect(parseStat(`7 (${comm})${rest}`).comm).toBe(comm);
      }),
    );
  });

  it('auxv and tty_nr: any input decodes without throwing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => typeof parseAuxv(b) === 'object'),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (n) => n === 0 || decodeTtyNr(n) !== undefined,
      ),
    );
  });
});
