// A small fetch client for /api/v1. Every failure becomes an ApiError carrying the server's own
// message and code, so pages can show exactly what the API said.
import type {
  ArchiveResult,
  AuditQueued,
  AuditSitesResponse,
  CatchupResult,
  EntryKind,
  EntryList,
  ErrorBody,
  ExposureHistory,
  ExposureVerifyResponse,
  SiteReport,
  SiteSummary,
  StatusAction,
  TransferStatusPage,
} from './types';

export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface RequestOptions {
  signal?: AbortSignal;
}

type Query = Record<string, string | number | undefined>;

const BASE = '/api/v1';

export function apiPath(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined) params.set(key, String(value));
  }
  const search = params.toString();
  return `${BASE}${path}${search ? `?${search}` : ''}`;
}

function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== 'object' || value === null || !('error' in value)) return false;
  const error = value.error;
  return typeof error === 'object' && error !== null && 'message' in error && 'code' in error;
}

async function request<T>(method: string, url: string, body: unknown, options: RequestOptions): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      credentials: 'same-origin',
      headers:
        body === undefined
          ? { accept: 'application/json' }
          : { 'content-type': 'application/json', accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: options.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'NETWORK_ERROR', 'The server cannot be reached. Check that Custodian is running.');
  }
  const text = await response.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (!response.ok) {
    if (isErrorBody(parsed)) {
      const { code, message, details } = parsed.error;
      throw new ApiError(response.status, code, message, details);
    }
    throw new ApiError(
      response.status,
      `HTTP_${response.status}`,
      `The server answered ${response.status} ${response.statusText}.`,
    );
  }
  return parsed as T;
}

export const api = {
  get: <T>(path: string, query?: Query, options: RequestOptions = {}) =>
    request<T>('GET', apiPath(path, query), undefined, options),
  post: <T>(path: string, body?: unknown, options: RequestOptions = {}) =>
    request<T>('POST', apiPath(path), body ?? {}, options),
  delete: (path: string, options: RequestOptions = {}) =>
    request<undefined>('DELETE', apiPath(path), undefined, options),
};

/** The message to show for any caught value. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}

export interface TransferStatusQuery {
  stream?: string;
  night?: string;
  /** The newest N nights; 0 = all (the API's default is 10). */
  nights?: number;
}

const segment = (value: string) => encodeURIComponent(value);

/** The transfer module's endpoints (`/transfer/...`). */
export const transferApi = {
  statusPath: (query: TransferStatusQuery) => apiPath('/transfer/status', { ...query }),
  status: (query: TransferStatusQuery, options: RequestOptions = {}) =>
    api.get<TransferStatusPage>('/transfer/status', { ...query }, options),
  exposurePath: (stream: string, night: string, exposure: string) =>
    apiPath(`/transfer/status/${segment(stream)}/${segment(night)}/${segment(exposure)}`),
  exposure: (stream: string, night: string, exposure: string, options: RequestOptions = {}) =>
    api.get<ExposureHistory>(
      `/transfer/status/${segment(stream)}/${segment(night)}/${segment(exposure)}`,
      undefined,
      options,
    ),
  verify: (stream: string, night: string, exposure: string) =>
    api.post<ExposureVerifyResponse>('/transfer/verify', { stream, night, exposure }),
  catchup: (stream: string, night: string, dryRun: boolean) =>
    api.post<CatchupResult>('/transfer/catchup', { stream, night, dryRun }),
  archive: (stream: string, night: string, dryRun: boolean) =>
    api.post<ArchiveResult>('/transfer/archive', { stream, night, dryRun }),
};

const sitePath = (site: string) => `/audit/sites/${segment(site)}`;
const entriesPath = (site: string, kind: EntryKind) => `${sitePath(site)}/entries/${segment(kind)}`;

/** The audit module's endpoints (`/audit/...`). */
export const auditApi = {
  sitesPath: () => apiPath('/audit/sites'),
  sites: (options: RequestOptions = {}) => api.get<AuditSitesResponse>('/audit/sites', undefined, options),
  sitePath: (site: string) => apiPath(sitePath(site)),
  site: (site: string, options: RequestOptions = {}) =>
    api.get<SiteReport>(sitePath(site), undefined, options),
  entriesPath: (site: string, kind: EntryKind) => apiPath(entriesPath(site, kind)),
  entries: (site: string, kind: EntryKind, options: RequestOptions = {}) =>
    api.get<EntryList>(entriesPath(site, kind), undefined, options),
  /** The whole list as text, one path per line: what the "Download" links point at. */
  downloadUrl: (site: string, kind: EntryKind) => apiPath(entriesPath(site, kind), { format: 'text' }),
  setStatus: (site: string, action: StatusAction) =>
    api.post<SiteSummary>(`${sitePath(site)}/status`, { action }),
  markActed: (site: string, kind: EntryKind) => api.post<EntryList>(`${entriesPath(site, kind)}/acted`),
  /** Queues an audit of `site`, or of the site the picking rule chooses next. */
  run: (site?: string) => api.post<AuditQueued>('/audit/runs', site === undefined ? {} : { site }),
};
