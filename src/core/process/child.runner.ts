/**
 * Runs outside programs (ssh, rsync) for the adapters that need them: with an argument array,
 * never a local shell, and in the C locale, so that their messages (which we match and show)
 * are English whatever the operator's locale. What a program printed and how it ended come back
 * as a value; only an abort rejects.
 */
import { spawn } from 'node:child_process';
import { coerceError } from '../errors.js';
import { abortReason } from '../lifecycle/abort.js';

export interface ChildResult {
  /** Exit code; null when killed by a signal or when the program could not be started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The last STDERR_CAP bytes of stderr. */
  stderr: string;
  /** Set when the program could not be started (ENOENT, EACCES). */
  error?: Error;
}

export interface RunChildOptions {
  /** Written to the child's stdin, which is then closed; without it stdin is /dev/null. */
  input?: string;
  /** Aborting kills the child (SIGTERM, then SIGKILL after `killGraceMs`) and rejects. */
  signal?: AbortSignal;
  /** How long a child may take to exit after SIGTERM before it gets SIGKILL; default 5000. */
  killGraceMs?: number;
}

/** How much of a child's stderr is kept: its end, where the reason usually is. */
export const STDERR_CAP = 64 * 1024;
const DEFAULT_KILL_GRACE_MS = 5000;

/** The environment of every child: ours, in the C locale (English messages from ssh, rsync and find). */
export function childEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LC_ALL: 'C' };
}

/**
 * Runs a program with an argument array (never a local shell). Resolves with what it printed and
 * how it ended; rejects only when `signal` aborts, after killing the child (TERM, then KILL).
 */
export function runChild(
  command: string,
  args: readonly string[],
  options: RunChildOptions = {},
): Promise<ChildResult> {
  const { signal } = options;
  const killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn(command, args, {
        stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        env: childEnv(),
      });
    } catch (e) {
      resolve({ code: null, signal: null, stdout: '', stderr: '', error: coerceError(e) });
      return;
    }
    const stdout: Buffer[] = [];
    let stderr = Buffer.alloc(0);
    let spawnError: Error | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), killGraceMs);
      killTimer.unref();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = Buffer.concat([stderr, chunk]);
      if (stderr.length > STDERR_CAP) stderr = stderr.subarray(stderr.length - STDERR_CAP);
    });
    child.on('error', (error) => (spawnError = error));
    if (child.stdin) {
      // The child may exit before reading everything (an unreachable host): not our error.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
    child.on('close', (code, exitSignal) => {
      signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      resolve({
        code: spawnError ? null : code,
        signal: exitSignal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: stderr.toString('utf8'),
        ...(spawnError ? { error: spawnError } : {}),
      });
    });
  });
}

/** How much of stderr a message quotes: its last `lines` lines, at most `chars` characters. */
export interface SummaryLimits {
  lines: number;
  chars: number;
}

/** The last lines of a program's stderr, for a message (ssh's own host-key notices left out). */
export function summarize(stderr: string, limits: SummaryLimits): string {
  const kept = stderr
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('Warning: Permanently added'));
  const text = kept.slice(-limits.lines).join('; ');
  return text.length > limits.chars ? `…${text.slice(-limits.chars)}` : text || '(no message)';
}

/** `could not be started (…)`, `was killed by SIGTERM` or `exited with 255`, after the program's name. */
export function howItEnded(result: Pick<ChildResult, 'code' | 'signal' | 'error'>): string {
  if (result.error) return `could not be started (${result.error.message})`;
  return result.code === null ? `was killed by ${result.signal ?? 'a signal'}` : `exited with ${result.code}`;
}
