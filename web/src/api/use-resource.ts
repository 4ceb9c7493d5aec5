// Loads one API resource for a component, optionally refreshing it on an interval. The key
// identifies what is loaded (usually the URL): when it changes, the old data is dropped, so a page
// never shows one run's data under another run's title. Refreshes keep the data on screen and
// never overlap: the next one is scheduled only after the previous one finished.
import { useCallback, useEffect, useRef, useState } from 'react';
import { isAbort } from './client';

export interface Resource<T> {
  data: T | undefined;
  error: Error | undefined;
  /** True while the first load for the current key (or an explicit reload) is under way. */
  loading: boolean;
  reload: () => void;
}

interface State<T> {
  key: string;
  data?: T;
  error?: Error;
  loading: boolean;
}

export function useResource<T>(
  key: string,
  load: (signal: AbortSignal) => Promise<T>,
  options: { refreshMs?: number } = {},
): Resource<T> {
  const { refreshMs } = options;
  const loadRef = useRef(load);
  useEffect(() => {
    loadRef.current = load;
  });
  const [reloads, setReloads] = useState(0);
  const [state, setState] = useState<State<T>>({ key, loading: true });

  useEffect(() => {
    const controller = new AbortController();
    let timer: number | undefined;
    setState((s) => (s.key === key ? { ...s, loading: true } : { key, loading: true }));
    const run = async (): Promise<void> => {
      try {
        const data = await loadRef.current(controller.signal);
        if (controller.signal.aborted) return;
        setState({ key, data, loading: false });
      } catch (e) {
        if (controller.signal.aborted || isAbort(e)) return;
        const error = e instanceof Error ? e : new Error(String(e));
        setState((s) => ({ key, data: s.key === key ? s.data : undefined, error, loading: false }));
      }
      if (refreshMs !== undefined && !controller.signal.aborted) {
        timer = window.setTimeout(() => void run(), refreshMs);
      }
    };
    void run();
    return () => {
      controller.abort();
      window.clearTimeout(timer);
    };
  }, [key, refreshMs, reloads]);

  const reload = useCallback(() => setReloads((n) => n + 1), []);
  const current = state.key === key;
  return {
    data: current ? state.data : undefined,
    error: current ? state.error : undefined,
    loading: !current || state.loading,
    reload,
  };
}
