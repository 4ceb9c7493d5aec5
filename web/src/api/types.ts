// Wire types of the HTTP API (notes/API.md). The web app shares types with the server, never
// runtime code. Fields named `...At` are ISO 8601 UTC strings; file `timestamp`s are unix seconds.
import type { VerifyResult } from '../../../src/modules/transfer/verify.service.js';
import type { SiteSummary } from '../../../src/modules/audit/audit.types.js';

export type Role = 'viewer' | 'operator' | 'admin';

export interface User {
  name: string;
  role: Role;
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export interface Meta {
  version: string;
  modules: string[];
  publicRead: boolean;
}

export interface LoginRequest {
  username: string;
  password: string;
}

export interface LoginResponse {
  user: User;
}

export interface MeResponse {
  user: User | null;
}

export interface List<T> {
  items: T[];
}

export interface Page<T> {
  items: T[];
  total: number;
}

export interface UserRecord extends User {
  createdAt: string;
}

export interface CreateUserRequest {
  name: string;
  role: Role;
  password: string;
}

export interface TokenRecord {
  id: string | number;
  user: string;
  label: string | null;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface CreateTokenRequest {
  user: string;
  label?: string;
}

export interface CreatedToken {
  id: string | number;
  /** The secret itself: returned once, never again. */
  token: string;
}

export type Severity = 'info' | 'warning' | 'critical';
export type AlertState = 'active' | 'resolved' | 'all';

export interface Alert {
  id: string | number;
  code: string;
  severity: Severity;
  message: string;
  count: number;
  firstAt: string;
  lastAt: string;
  notifiedAt: string | null;
  resolvedAt: string | null;
}

// The ingest shapes come from the server's domain types (types only: nothing of the server runs here).
export type { RunSummary, RunFile, RunDetail } from '../../../src/modules/ingest/ingest.types.js';

// The transfer shapes, likewise from the server's domain types.
export type {
  Stage,
  StageState,
  StageAttempt,
  ExposureStatus,
  ExposureHistory,
  NightState,
  NightSummary,
  TransferStatusPage,
  CatchupExposure,
  CatchupResult,
  ArchiveResult,
} from '../../../src/modules/transfer/transfer.types.js';
export type { VerifyResult };

/** `POST /transfer/verify`: the exposure that was checked again and what the check found. */
export interface ExposureVerifyResponse {
  stream: string;
  night: string;
  exposure: string;
  result: VerifyResult;
}

// The audit shapes, likewise from the server's domain types.
export type {
  AuditEntry,
  AuditRun,
  EntryKind,
  EntryList,
  RunOutcome,
  SiteMode,
  SiteReport,
  SiteStatus,
  SiteSummary,
  StatusAction,
  UnlistedDirectory,
} from '../../../src/modules/audit/audit.types.js';

/** `GET /audit/sites`. */
export interface AuditSitesResponse {
  sites: SiteSummary[];
}

/** `POST /audit/runs`: the site whose audit was queued. */
export interface AuditQueued {
  queued: string;
}
