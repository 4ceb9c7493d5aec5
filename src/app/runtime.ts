import type { App } from './app.js';
import { installStopSignals } from '../core/lifecycle/signals.js';
import { runAsSingleton } from '../core/lifecycle/singleton.js';

/**
 * The runtime roles. Each waits for SIGINT/SIGTERM (first: graceful, second: forced), then
 * stops what it started in reverse order.
 */
function stopController(app: App): { controller: AbortController; dispose: () => void } {
  const controller = new AbortController();
  const dispose = installStopSignals(controller, { logger: app.logger });
  return { controller, dispose };
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

async function listen(app: App) {
  // The HTTP layer (fastify, its plugins, the routes, prom-client) loads only in the roles that
  // serve: the CLI imports this module for every command, and it would cost each one start-up time.
  const { buildHttpServer } = await import('./server.js');
  const server = await buildHttpServer(app);
  const { host, port } = app.config.server;
  const address = await server.listen({ host, port });
  app.logger.info({ address }, `dashboard and API on ${address}`);
  return server;
}

export async function serve(app: App): Promise<void> {
  const { controller, dispose } = stopController(app);
  const server = await listen(app);
  try {
    await waitForAbort(controller.signal);
  } finally {
    await server.close();
    dispose();
  }
}

/** Everything on one machine: API + web, each configured daemon (once across processes), in-process workers. */
export interface StartOptions {
  /** More loops to run beside the daemons until stopped (the demo's simulators). */
  extraLoops?: ((signal: AbortSignal) => Promise<void>)[];
  onListening?: (origin: string) => void;
}

export async function start(app: App, options: StartOptions = {}): Promise<void> {
  const { controller, dispose } = stopController(app);
  const server = await listen(app);
  options.onListening?.(server.listeningOrigin);
  const tasks: Promise<void>[] = [app.queue.run(controller.signal)];
  for (const loop of options.extraLoops ?? []) tasks.push(loop(controller.signal));
  for (const daemon of app.daemons()) {
    tasks.push(
      runAsSingleton(app.locks, `daemon:${daemon.name}`, controller.signal, (signal) => daemon.start(signal)),
    );
  }
  try {
    await Promise.all(tasks);
  } finally {
    // When one loop fails, the others must finish their current step before the caller closes
    // the database under them.
    controller.abort();
    await Promise.allSettled(tasks);
    await server.close();
    dispose();
  }
}

export async function work(app: App, options: { concurrency: number }): Promise<void> {
  const { controller, dispose } = stopController(app);
  app.logger.info({ queue: app.queue.kind, concurrency: options.concurrency }, 'worker started');
  try {
    await app.queue.run(controller.signal, { concurrency: options.concurrency });
  } finally {
    dispose();
  }
}
