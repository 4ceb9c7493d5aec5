import fs from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { ZodType } from 'zod';
import { InputError, NotFoundError, coerceError } from '../errors.js';

/**
 * Loads the YAML configuration once: find the file, substitute `${ENV}` / `${ENV:-default}` /
 * `${file:path}` references, validate with the assembled zod schema reporting every problem with
 * its path in one error, resolve relative paths against the config file's folder, and freeze.
 */
export interface ConfigSource {
  /** Absolute path of the file that was read. */
  file: string;
  /** Folder relative paths are resolved against. */
  baseDir: string;
}

export interface LoadConfigOptions<T> {
  schema: ZodType<T>;
  /** `--config FILE`; else env CUSTODIAN_CONFIG; else ./custodian.yaml. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Dotted keys (with `*` for array items) whose string values are paths. */
  pathKeys?: readonly string[];
  /** Applied to the raw document before validation (e.g. `--port`). */
  overrides?: (raw: Record<string, unknown>) => void;
}

export function findConfigFile(options: { file?: string; env?: NodeJS.ProcessEnv; cwd?: string }): string {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const chosen = options.file ?? env.CUSTODIAN_CONFIG ?? 'custodian.yaml';
  return path.resolve(cwd, chosen);
}

export function loadConfig<T>(options: LoadConfigOptions<T>): { config: T; source: ConfigSource } {
  const file = findConfigFile(options);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    const err = coerceError(error) as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') {
      throw new NotFoundError(
        'CONFIG_NOT_FOUND',
        `no configuration at ${file}: create one with "custodian init > custodian.yaml", or pass --config FILE / set CUSTODIAN_CONFIG`,
      );
    }
    throw new InputError('CONFIG_UNREADABLE', `cannot read ${file}: ${err.message}`);
  }
  const baseDir = path.dirname(file);
  const config = parseConfigText(text, { ...options, baseDir, fileLabel: file });
  return { config, source: { file, baseDir } };
}

/** The pure part of loading, for tests: text in, frozen config out, or one InputError. */
export function parseConfigText<T>(
  text: string,
  options: LoadConfigOptions<T> & { baseDir: string; fileLabel?: string },
): T {
  const label = options.fileLabel ?? 'configuration';
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      return pos ? `line ${pos.line}, column ${pos.col}: ${e.message.split('\n')[0]}` : e.message;
    });
    throw new InputError('CONFIG_INVALID', `${label} is not valid YAML:\n  ${problems.join('\n  ')}`, {
      details: { problems },
    });
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (error) {
    // Unresolvable aliases and alias bombs surface here rather than as parse errors.
    throw new InputError('CONFIG_INVALID', `${label} is not valid YAML: ${coerceError(error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InputError(
      'CONFIG_INVALID',
      `${label}: the top level must be a mapping of keys (database:, server:, …)`,
    );
  }
  const problems: string[] = [];
  const substituted = substitute(raw, [], options.env ?? process.env, options.baseDir, problems) as Record<
    string,
    unknown
  >;
  if (problems.length > 0) {
    throw new InputError(
      'CONFIG_INVALID',
      `${label} has ${problems.length} problem(s):\n  ${problems.join('\n  ')}`,
      {
        details: { problems },
      },
    );
  }
  options.overrides?.(substituted);
  const parsed = options.schema.safeParse(substituted);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => {
      const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
      return `${where}: ${issue.message}`;
    });
    throw new InputError(
      'CONFIG_INVALID',
      `${label} has ${issues.length} invalid key(s):\n  ${issues.join('\n  ')}`,
      {
        details: { problems: issues },
      },
    );
  }
  const config = parsed.data;
  for (const key of options.pathKeys ?? []) resolvePathKey(config, key.split('.'), options.baseDir);
  return deepFreeze(config);
}

const REFERENCE = /\$\{([^}]*)\}/g;

function substitute(
  value: unknown,
  at: string[],
  env: NodeJS.ProcessEnv,
  baseDir: string,
  problems: string[],
): unknown {
  if (typeof value === 'string') {
    return value.replace(REFERENCE, (_match, inner: string) => {
      const where = at.join('.') || '(top level)';
      if (inner.startsWith('file:')) {
        const target = path.resolve(baseDir, inner.slice('file:'.length));
        try {
          return fs.readFileSync(target, 'utf8').trim();
        } catch (error) {
          problems.push(`${where}: cannot read secret file ${target}: ${coerceError(error).message}`);
          return '';
        }
      }
      const [name = '', fallback] = inner.split(':-', 2);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        problems.push(
          `${where}: "\${${inner}}" is not a valid reference; use \${NAME}, \${NAME:-default} or \${file:path}`,
        );
        return '';
      }
      const found = env[name];
      if (found !== undefined) return found;
      if (fallback !== undefined) return fallback;
      problems.push(`${where}: environment variable ${name} is not set`);
      return '';
    });
  }
  if (Array.isArray(value))
    return value.map((item, i) => substitute(item, [...at, String(i)], env, baseDir, problems));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substitute(v, [...at, k], env, baseDir, problems);
    return out;
  }
  return value;
}

const URL_LIKE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

function resolvePathKey(target: unknown, keys: string[], baseDir: string): void {
  if (target === null || typeof target !== 'object') return;
  const [head, ...rest] = keys;
  if (head === undefined) return;
  const record = target as Record<string, unknown>;
  const children = head === '*' && Array.isArray(target) ? target.map((_, i) => String(i)) : [head];
  for (const child of children) {
    const value = record[child];
    if (rest.length === 0) {
      // A path key may also accept a URL (a transfer source `ssh://host/path`): URLs stay as written.
      if (typeof value === 'string' && value !== '' && !URL_LIKE.test(value))
        record[child] = path.resolve(baseDir, value);
    } else resolvePathKey(value, rest, baseDir);
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

const SECRET_KEY = /(password|secret|token|key)$/i;

/** A copy safe to print: URL passwords and secret-looking keys masked. */
export function maskSecrets(value: unknown, key = ''): unknown {
  if (typeof value === 'string') {
    if (SECRET_KEY.test(key)) return '***';
    return value.replace(/(\/\/[^:/@\s]+):([^@\s]+)@/g, '$1:***@');
  }
  if (Array.isArray(value)) return value.map((item) => maskSecrets(item, key));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)]));
  }
  return value;
}
