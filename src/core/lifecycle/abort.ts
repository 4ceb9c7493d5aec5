/**
 * Small AbortSignal helpers shared by the loops, the job queue and the lock managers.
 *
 * `linkSignals` exists instead of `AbortSignal.any` because the result of `any` stays referenced
 * by its long-lived sources on Node 20; a queue that links the run signal for every job would
 * grow without bound. Here the caller disposes the link when the job is done.
 */
import { coerceError } from '../errors.js';

/** Why a signal aborted, as an Error: its reason when that is one, else a DOMException AbortError. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException('The operation was aborted', 'AbortError');
}

/**
 * `promise`, unless `signal` aborts first: then `onAbort` runs (to stop the work behind the
 * promise, e.g. kill a child) and the result rejects with the abort's reason. A rejection of
 * `promise` arrives as an Error.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal, onAbort: () => void): Promise<T> {
  if (signal.aborted) {
    onAbort();
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const aborted = () => {
      onAbort();
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', aborted, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', aborted);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', aborted);
        reject(coerceError(error));
      },
    );
  });
}

export interface LinkedSignal {
  readonly signal: AbortSignal;
  /** Detaches from the sources; call it when the work that used `signal` is over. */
  dispose(): void;
}

export function linkSignals(...sources: readonly (AbortSignal | undefined)[]): LinkedSignal {
  const controller = new AbortController();
  const present = sources.filter((s): s is AbortSignal => s !== undefined);
  const already = present.find((s) => s.aborted);
  if (already) {
    controller.abort(already.reason);
    return { signal: controller.signal, dispose: () => undefined };
  }
  const listeners = present.map((source) => {
    const listener = () => controller.abort(source.reason);
    source.addEventListener('abort', listener, { once: true });
    return { source, listener };
  });
  return {
    signal: controller.signal,
    dispose: () => {
      for (const { source, listener } of listeners) source.removeEventListener('abort', listener);
    },
  };
}

/**
 * Waits `ms`, or less if the signal aborts first. Never rejects: callers check `signal.aborted`
 * afterwards. Resolves `true` when the full time elapsed.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
