// Compiles native/seqpacket.c into dist/native/seqpacket-linux-<arch>.node for
// every shipped architecture (x64 and arm64), from whatever Linux host runs it,
// with Debian's C compilers (the native `cc`, or gcc-aarch64-linux-gnu /
// gcc-x86-64-linux-gnu as cross compilers), then strips it. Needs only Node's
// headers, which are the same on every architecture (Debian's nodejs and the
// nodesource packages put them in <prefix>/include/node): no node-gyp, no
// network. Run after tsup, whose `clean` empties dist/.
//
//   node scripts/build-native.mjs               every target (CI=true: all required)
//   node scripts/build-native.mjs --arch arm64  only these targets
//   node scripts/build-native.mjs --check       build nothing; fail unless every
//                                               target's addon is present (prepack)
//
// The addon links dynamically against glibc (it is loaded into Node, which on
// musl systems such as Alpine is itself musl-linked: that is not supported).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crossBuild } from '../../../scripts/cross-build.mjs';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(packageDir, 'native', 'seqpacket.c');
const outDir = join(packageDir, 'dist', 'native');
const outFor = (arch) => join(outDir, `seqpacket-linux-${arch}.node`);

const TARGETS = [
  {
    arch: 'x64',
    toolchains: [
      { cc: process.env.CC ?? 'cc', strip: 'strip', host: 'x64' },
      { cc: 'x86_64-linux-gnu-gcc', strip: 'x86_64-linux-gnu-strip' },
    ],
    debian: 'build-essential (or gcc-x86-64-linux-gnu on another host)',
  },
  {
    arch: 'arm64',
    toolchains: [
      { cc: 'aarch64-linux-gnu-gcc', strip: 'aarch64-linux-gnu-strip' },
      { cc: process.env.CC ?? 'cc', strip: 'strip', host: 'arm64' },
    ],
    debian: 'gcc-aarch64-linux-gnu libc6-dev-arm64-cross',
  },
];

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

let headers;
crossBuild({
  tool: 'build-native',
  what: 'addon',
  targets: TARGETS,
  arches: process.env.CRYOPIPE_ARCHES,
  outFor,
  compile(cc, out) {
    headers ??= nodeHeaders();
    execFileSync(
      cc,
      [
        '-shared',
        '-fPIC',
        '-O2',
        '-std=gnu11',
        '-Wall',
        '-Wextra',
        '-Werror',
        '-DNODE_GYP_MODULE_NAME=seqpacket',
        '-DNAPI_VERSION=8',
        `-I${headers}`,
        '-o',
        out,
        source,
      ],
      { stdio: 'inherit' },
    );
  },
  // --strip-unneeded keeps the dynamic symbols Node looks up (napi_register_module_v1).
  stripFlags: ['--strip-unneeded'],
});
