import { describe, expect, it } from 'vitest';
import { fixtureText } from './fixture.ts';
import { isKernelThread, PF, processFlags } from './process-flags.ts';
import { Procfs } from './procfs.ts';
import { parseStat } from './stat.ts';

describe('processFlags', () => {
  it('names the bits of a captured bash (100) and a captured zombie (105)', () => {
    const bash = processFlags(parseStat(fixtureText('100/stat')).flags);
    // 4194560 = 0x400100: PF_RANDOMIZE | PF_SUPERPRIV
    expect(bash).toMatchObject({
      randomized: true,
      usedSuperPrivileges: true,
      kernelThread: false,
    });
    expect(Object.values(bash).filter(Boolean)).toHaveLength(2);
    // 4227148 = 0x40804c: exiting, forked without exec, randomized (0x8000 NOFREEZE too).
    const zombie = processFlags(parseStat(fixtureText('105/stat')).flags);
    expect(zombie).toMatchObject({ exiting: true, forkedNoExec: true, randomized: true });
  });

  it('decodes every named bit on its own, the top bit included', () => {
    for (const bit of Object.values(PF)) {
      const on = Object.entries(processFlags(bit)).filter(([, v]) => v);
      expect(on).toHaveLength(1);
    }
    expect(processFlags(0xffff_ffff).kernelThread).toBe(true);
    expect(Object.values(processFlags(0)).some(Boolean)).toBe(false);
  });

  it('tells a kernel thread by PF_KTHREAD, not by its parent', () => {
    expect(isKernelThread({ flags: 0x0020_8040 })).toBe(true);
    expect(isKernelThread({ flags: 0x0040_0100 })).toBe(false);
  });

  it('live: kthreadd (pid 2) is a kernel thread, this process is not', async () => {
    const procfs = new Procfs();
    expect(isKernelThread(await procfs.process(2).stat())).toBe(true);
    const me = processFlags((await procfs.process(process.pid).stat()).flags);
    expect(me.kernelThread).toBe(false);
    expect(me.exiting).toBe(false);
  });
});
