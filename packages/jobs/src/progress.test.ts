import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { directoryBytes, meterDirectory, noMeter, type ProgressEvent } from './progress.ts';

describe('meterDirectory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cryopipe-meter-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('measures a directory while it grows, and ends with done', async () => {
    const events: ProgressEvent[] = [];
    const metering = meterDirectory(dir, 'writing images', (e) => events.push(e), 20);
    writeFileSync(join(dir, 'pages-1.img'), Buffer.alloc(1000, 1));
    await new Promise((r) => setTimeout(r, 120));
    mkdirSync(join(dir, 'pre'));
    writeFileSync(join(dir, 'pre', 'pages-2.img'), Buffer.alloc(500, 1));
    metering.stop();
    metering.stop(); // a second stop sends nothing more
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(events.slice(0, -1).every((e) => !e.done && e.step === 'writing images')).toBe(true);
    expect(events.some((e) => e.bytes === 1000)).toBe(true);
    expect(events.at(-1)).toEqual({ step: 'writing images', bytes: 1500, done: true });
    expect(events.filter((e) => e.done)).toHaveLength(1);
    expect(directoryBytes(dir)).toBe(1500);
    expect(directoryBytes(join(dir, 'missing'))).toBe(0);
  });

  it('does nothing for noMeter', () => {
    const metering = meterDirectory(dir, 'x', noMeter, 1);
    metering.stop();
  });
});
