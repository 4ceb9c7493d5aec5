// The loading, empty and error states every page shows in the same way.
import type { ReactNode } from 'react';

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p className="status status-loading" role="status">
      {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="status status-empty">{children}</p>;
}

export function ErrorNotice({ error, title }: { error: Error | string; title?: string }) {
  return (
    <div className="notice notice-error" role="alert">
      {title && <strong>{title} </strong>}
      {typeof error === 'string' ? error : error.message}
    </div>
  );
}
