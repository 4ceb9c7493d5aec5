import { spawnSync } from 'node:child_process';

/**
 * A suite whose server or program is missing skips with one line saying what to install,
 * except under CI=true, where skipping would hide a broken setup: then it fails.
 */
export const isCI = process.env.CI === 'true';

/** Returns a skip reason (string) or false; throws under CI when the requirement is missing. */
export function requirement(available: boolean, whatToInstall: string): string | false {
  if (available) return false;
  const message = `skipped: ${whatToInstall}`;
  if (isCI) throw new Error(`CI=true and a requirement is missing: ${whatToInstall}`);
  process.stderr.write(`${message}\n`);
  return message;
}

export function hasProgram(program: string): boolean {
  const result = spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
  return result.status === 0;
}
