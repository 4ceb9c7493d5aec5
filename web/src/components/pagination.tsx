// Previous/next paging with a page-size choice, driven by offset and limit as the API takes them.

export const PAGE_SIZES = [10, 20, 50, 100] as const;

interface PaginationProps {
  offset: number;
  limit: number;
  total: number;
  onChange: (offset: number, limit: number) => void;
}

export function Pagination({ offset, limit, total, onChange }: PaginationProps) {
  const first = total === 0 ? 0 : offset + 1;
  const last = Math.min(offset + limit, total);
  return (
    <nav className="pagination" aria-label="Pagination">
      <button
        type="button"
        disabled={offset === 0}
        onClick={() => onChange(Math.max(0, offset - limit), limit)}
      >
        ← Previous
      </button>
      <span className="pagination-range" data-testid="page-range">
        {first}–{last} of {total}
      </span>
      <button
        type="button"
        disabled={offset + limit >= total}
        onClick={() => onChange(offset + limit, limit)}
      >
        Next →
      </button>
      <label className="pagination-size">
        Per page{' '}
        <select value={limit} onChange={(event) => onChange(0, Number(event.target.value))}>
          {PAGE_SIZES.map((size) => (
            <option key={size} value={size}>
              {size}
            </option>
          ))}
        </select>
      </label>
    </nav>
  );
}

/** Reads `page` and `size` from the URL's search parameters, falling back to sane values. */
export function pageFromSearch(params: URLSearchParams, defaultSize = 20): { offset: number; limit: number } {
  const size = Number(params.get('size'));
  const limit = PAGE_SIZES.includes(size as (typeof PAGE_SIZES)[number]) ? size : defaultSize;
  const page = Math.max(1, Math.floor(Number(params.get('page')) || 1));
  return { offset: (page - 1) * limit, limit };
}

export function searchWithPage(params: URLSearchParams, offset: number, limit: number): URLSearchParams {
  const next = new URLSearchParams(params);
  next.set('page', String(Math.floor(offset / limit) + 1));
  next.set('size', String(limit));
  return next;
}
