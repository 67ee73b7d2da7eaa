// Compiles native/seqpacket.c into dist/native/ with the system C compiler.
// Needs only build-essential and Node's headers (Debian's nodejs and the
// nodesource packages put them in <prefix>/include/node); no node-gyp, no
// network. Run after tsup, whose `clean` empties dist/.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(packageDir, 'native', 'seqpacket.c');
const outDir = join(packageDir, 'dist', 'native');
const output = join(outDir, `seqpacket-${process.platform}-${process.arch}.node`);

function nodeHeaders() {
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
    join(dirname(dirname(process.execPath)), 'include', 'node'),
    '/usr/include/node',
  ].filter(Boolean);
  const found = candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
  if (!found) {
    throw new Error(
      `node_api.h not found (looked in ${candidates.join(', ')}); install Node's headers ` +
        '(Debian: the nodejs package ships them) or set npm_config_nodedir',
    );
  }
  return found;
}

mkdirSync(outDir, { recursive: true });
const cc = process.env.CC ?? 'cc';
const args = [
  '-shared',
  '-fPIC',
  '-O2',
  '-std=gnu11',
  '-Wall',
  '-Wextra',
  '-Werror',
  '-DNODE_GYP_MODULE_NAME=seqpacket',
  '-DNAPI_VERSION=8',
  `-I${nodeHeaders()}`,
  '-o',
  output,
  source,
];
execFileSync(cc, args, { stdio: 'inherit' });
console.log(`built ${output}`);
