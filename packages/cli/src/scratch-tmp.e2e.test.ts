import { spawn, spawnSync } from 'node:child_process';
import { twoHosts } from '@cryopipe/testkit';
import { it } from 'vitest';
import { cliPath } from '../test/cli-harness.ts';
it('timing', async () => {
  const h = await twoHosts();
  try {
    const on = (host: typeof h.a, ...args: string[]) => spawnSync(host.enter[0]!, [...host.enter.slice(1), process.execPath, cliPath, ...args], { encoding: 'utf8', env: { ...process.env, ...host.env } });
    const r = on(h.a, 'run', '--name', 'mem', '--', 'python3', '-c', 'import time\nb=bytearray(200*1024*1024)\nfor i in range(0,len(b),4096): b[i]=1\nwhile True: time.sleep(0.1)');
    console.log(r.stdout, r.stderr);
    await new Promise((r) => setTimeout(r, 2000));
    const t0 = Date.now();
    const child = spawn(h.a.enter[0]!, [...h.a.enter.slice(1), process.execPath, cliPath, 'migrate', 'mem', h.b.dest, '--remote-cryopipe', `${process.execPath} ${cliPath}`, '--output-dir', '/tmp/mig/outb', ...h.b.sshArgs], { env: { ...process.env, ...h.a.env } });
    let buf = '';
    child.stderr.on('data', (c) => { for (const l of String(c).split('\n')) if (l) buf += `${Date.now() - t0} ${l}\n`; });
    child.stdout.on('data', (c) => { buf += `${Date.now() - t0} OUT ${c}`; });
    await new Promise((r) => child.once('exit', r));
    console.log(buf);
    const ps = on(h.b, 'ps', '--json');
    for (const j of JSON.parse(ps.stdout)) if (j.rootPid) process.kill(j.rootPid, 'SIGKILL');
    const psa = on(h.a, 'ps', '--json');
    for (const j of JSON.parse(psa.stdout)) if (j.rootPid) process.kill(j.rootPid, 'SIGKILL');
  } finally { await h.close(); }
}, 120000);
