import { startSshd } from './test/helpers/sshd.js';
import { spawnSync, execFileSync } from 'node:child_process';
import { WORKER_SCRIPT } from './src/modules/audit/ssh.lister.js';
const sshd = await startSshd();
try {
  const base = ['-p', String(sshd.port), '-i', sshd.identity, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', ...sshd.sshOptions.flatMap((o) => ['-o', o]), '-l', sshd.user];
  let t = Date.now();
  const r0 = spawnSync('ssh', [...base, '127.0.0.1', 'echo hi'], { encoding: 'utf8', timeout: 60000 });
  console.log('plain', Date.now() - t, r0.status, r0.stdout, r0.stderr);
  t = Date.now();
  const r = spawnSync('ssh', [...base, '127.0.0.1', 'sh -s'], { input: WORKER_SCRIPT + '/tmp\n', timeout: 60000 });
  console.log('worker', Date.now() - t, r.status, JSON.stringify(r.stdout.toString().slice(0, 200)), r.stderr.toString());
} finally { await sshd.stop(); }
