import { InvalidArgumentError, type Command } from 'commander';
import path from 'node:path';
import type { CliContext } from './cli-context.js';
import { serve, start, work } from './runtime.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a positive integer');
  return n;
}

/** The runtime roles (DESIGN.md §1): serve, start, worker, demo. */
export function registerRuntimeCommands(program: Command, context: CliContext): void {
  program
    .command('serve')
    .description('run the API and the web dashboard')
    .action(async () => serve(await context.app()));

  program
    .command('start')
    .description('run everything configured on this machine: API, web, daemons, in-process job workers')
    .action(async () => start(await context.app()));

  program
    .command('worker')
    .description('execute queued jobs (PostgreSQL deployments: any number of machines)')
    .option('--concurrency <n>', 'jobs run at once', positiveInt, 4)
    .action(async (options: { concurrency: number }) => work(await context.app(), options));

  program
    .command('demo')
    .description('create a self-contained demo workspace and run it, dashboard on http://127.0.0.1:8080')
    .option('--dir <dir>', 'workspace folder', './custodian-demo')
    .action(async (options: { dir: string }) => {
      // The demo (its simulators, the app) loads only when it runs, not with every command.
      const { runDemo } = await import('./demo/demo.js');
      await runDemo({ dir: path.resolve(options.dir), port: context.globals().port ?? 8080, context });
    });
}
