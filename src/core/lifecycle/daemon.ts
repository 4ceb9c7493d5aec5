/**
 * A long-running loop. `start` resolves when the signal aborts and the current step has finished
 * (or rolled back). Implementations open with a comment describing their states.
 */
export interface Daemon {
  readonly name: string;
  start(signal: AbortSignal): Promise<void>;
}
