import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { binary, describeWith } from '@cryopipe/testkit';
import { expect, it } from 'vitest';

// The launcher's C is formatted with the repository's .clang-format (clang-format
// 14, Debian 12's `clang-format` package). Under CI a missing clang-format fails.

const native = fileURLToPath(new URL('../native/', import.meta.url));
const files = readdirSync(native)
  .filter((f) => /\.[ch]$/.test(f))
  .map((f) => join(native, f));

it('keeps every line of the C sources within 100 columns', () => {
  const long = files.flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .flatMap((line, i) => ([...line].length > 100 ? [`${file}:${i + 1}`] : [])),
  );
  expect(long).toEqual([]);
});

describeWith([binary('clang-format', 'apt-get install clang-format')], 'C formatting', () => {
  it('leaves nothing for clang-format to change', () => {
    // --Werror turns each needed change into an error naming the file and line.
    execFileSync('clang-format', ['--dry-run', '--Werror', ...files], { stdio: 'pipe' });
  });
});
