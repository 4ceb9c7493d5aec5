import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

/** CLI end-to-end tests spawn the built binary (bin/custodian.js → the bundle in dist/cli), as a user would. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(PROJECT_ROOT, 'bin', 'custodian.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/**
 * Starts a long-running command; `ready` resolves once stdout or stderr matches `readyWhen`, and
 * rejects if the command exits first.
 */
export function startCli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; readyWhen?: RegExp } = {},
): { child: ChildProcess; ready: Promise<string>; exited: Promise<CliResult> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let onReady: (text: string) => void = () => undefined;
  let onExit: (error: Error) => void = () => undefined;
  const ready = new Promise<string>((resolve, reject) => {
    onReady = resolve;
    onExit = reject;
  });
  // Callers that never wait for readiness must not see an unhandled rejection when the command ends.
  ready.catch(() => undefined);
  const check = () => {
    const match = options.readyWhen ? (stdout + stderr).match(options.readyWhen) : [''];
    if (match) onReady(match[0] ?? '');
  };
  child.stdout?.on('data', (d: Buffer) => ((stdout += d.toString()), check()));
  child.stderr?.on('data', (d: Buffer) => ((stderr += d.toString()), check()));
  const exited = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => {
      // A command that dies before it is ready fails the test with what it said, instead of hanging.
      onExit(
        new Error(`custodian ${args.join(' ')} exited (${code ?? signal}) before it was ready:\n${stderr}`),
      );
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return { child, ready, exited };
}

export function tempDir(prefix = 'custodian-e2e-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Writes a config file into `dir` and returns its path. */
export function writeConfig(dir: string, yaml: string): string {
  const file = path.join(dir, 'custodian.yaml');
  fs.writeFileSync(file, yaml);
  return file;
}
