import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const addon = fileURLToPath(
    new URL(`../dist/native/seqpacket-${process.platform}-${process.arch}.node`, import.meta.url),
  );
  if (process.env.CRYOPIPE_CRIU_ADDON || existsSync(addon)) return;
  execFileSync(
    process.execPath,
    [fileURLToPath(new URL('../scripts/build-native.mjs', import.meta.url))],
    {
      stdio: 'inherit',
    },
  );
}
