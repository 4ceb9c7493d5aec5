import { startSshd } from './test/helpers/sshd.js';
import { SshLister } from './src/modules/audit/ssh.lister.js';
const sshd = await startSshd();
try {
  for (let i = 0; i < 5; i++) {
    const lister = new SshLister(sshd.url('/tmp/xrdexp/bench/store'), { identity: sshd.identity, sshOptions: sshd.sshOptions });
    const t = Date.now();
    const r = await lister.list({ directories: ['mc'], dumpFile: '/tmp/xrdexp/d.tsv', concurrency: 6, retries: 0, timeoutSeconds: 10 });
    console.log(i, Date.now() - t, 'ms', r.files, r.directories, JSON.stringify(r.unlisted.slice(0, 3)), r.unlisted.length);
  }
} finally { await sshd.stop(); }
