import assert from 'node:assert/strict';
import fs from 'node:fs';

/** A live process: its pid and command line. */
export interface ProcessInfo {
  pid: number;
  args: string[];
}

/**
 * Live (not zombie) processes, other than this one, with an argument that contains `text`: an ssh
 * master or client names its control directory, so a test finds the processes it started.
 */
export function processesMentioning(text: string): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.charAt(stat.lastIndexOf(')') + 2) === 'Z') continue;
      const args = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').slice(0, -1);
      if (args.some((arg) => arg.includes(text))) found.push({ pid: Number(entry), args });
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** Pids of the ssh masters (`ssh -M`) whose control socket lies under `controlDir`. */
export function sshMasters(controlDir: string): number[] {
  return processesMentioning(controlDir)
    .filter((p) => p.args.includes('-M'))
    .map((p) => p.pid);
}

/** Polls `condition` every 25 ms; throws after `timeoutMs`, naming `what` it waited for. */
export async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * What every user of an ssh master promises: everything so far rode on one login, one master and
 * its socket; closing leaves no process and no socket behind, and closing again is a no-op.
 */
export async function assertOneLoginThenClean(options: {
  connections: () => number;
  loginsBefore: number;
  controlDir: string;
  close: () => Promise<void>;
}): Promise<void> {
  const { connections, loginsBefore, controlDir, close } = options;
  assert.equal(connections() - loginsBefore, 1);
  assert.equal(sshMasters(controlDir).length, 1);
  assert.equal(fs.readdirSync(controlDir).length, 1);

  await close();
  assert.deepEqual(processesMentioning(controlDir), []);
  assert.deepEqual(fs.readdirSync(controlDir), []);
  await close();
  assert.equal(connections() - loginsBefore, 1);
}
