import type { Command } from 'commander';
import { InputError } from '../errors.js';
import { formatTable, type Output } from '../cli/output.js';
import { ROLES } from './roles.js';
import type { AuthService } from './auth.service.js';

export interface AuthCommandDeps {
  auth: () => Promise<AuthService>;
  output: (options: { json: boolean }) => Output;
  /** Where `--password-stdin` reads from. Default process.stdin. */
  stdin?: NodeJS.ReadableStream;
}

interface JsonOption {
  json?: boolean;
}

async function readPassword(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  // `echo pw | …` adds a newline that is not part of the password.
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

function iso(ms: number | null): string {
  return ms === null ? '' : new Date(ms).toISOString();
}

function parseId(value: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(value))
    throw new InputError('AUTH_BAD_TOKEN_ID', `"${value}" is not a token id (see \`custodian tokens list\`)`);
  return Number(value);
}

/** `custodian users add|list|remove` and `custodian tokens create|list|revoke`. */
export function registerAuthCommands(program: Command, deps: AuthCommandDeps): void {
  const out = (options: JsonOption) => deps.output({ json: options.json === true });

  const users = program
    .command('users')
    .description('manage the users who may log in to the dashboard and API');
  users
    .command('add <name>')
    .description(
      'add a user; the password is read from stdin (printf %s "$PW" | custodian users add NAME --role operator --password-stdin)',
    )
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .option('--password-stdin', 'read the password from stdin')
    .option('--json', 'print JSON')
    .action(async (name: string, options: JsonOption & { role: string; passwordStdin?: boolean }) => {
      if (options.passwordStdin !== true) {
        throw new InputError(
          'AUTH_PASSWORD_REQUIRED',
          'pass the password on stdin with --password-stdin, e.g. printf %s "$PW" | custodian users add NAME --role viewer --password-stdin',
        );
      }
      const password = await readPassword(deps.stdin ?? process.stdin);
      const user = await (await deps.auth()).addUser(name, options.role, password);
      out(options).result(
        { ...user, createdAt: iso(user.createdAt) },
        (u) => `added user ${u.name} (${u.role})`,
      );
    });
  users
    .command('list')
    .description('list users')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption) => {
      const list = await (await deps.auth()).listUsers();
      out(options).result(
        { items: list.map((user) => ({ ...user, createdAt: iso(user.createdAt) })) },
        ({ items }) =>
          formatTable(
            ['NAME', 'ROLE', 'CREATED'],
            items.map((u) => [u.name, u.role, u.createdAt]),
          ),
      );
    });
  users
    .command('remove <name>')
    .description("remove a user and the user's API tokens")
    .option('--json', 'print JSON')
    .action(async (name: string, options: JsonOption) => {
      await (await deps.auth()).removeUser(name);
      out(options).result({ removed: name }, (r) => `removed user ${r.removed}`);
    });

  const tokens = program
    .command('tokens')
    .description('manage API tokens for scripts (Authorization: Bearer <token>)');
  tokens
    .command('create')
    .description('create an API token; it is printed once and only its hash is stored')
    .requiredOption('--user <name>', 'the user the token acts as')
    .option('--label <label>', 'what the token is for', '')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & { user: string; label: string }) => {
      const created = await (await deps.auth()).createToken(options.user, options.label);
      out(options).result(created, (c) => c.token);
    });
  tokens
    .command('list')
    .description('list API tokens (never the tokens themselves)')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption) => {
      const list = await (await deps.auth()).listTokens();
      out(options).result(
        {
          items: list.map((t) => ({
            ...t,
            createdAt: iso(t.createdAt),
            lastUsedAt: t.lastUsedAt === null ? null : iso(t.lastUsedAt),
          })),
        },
        ({ items }) =>
          formatTable(
            ['ID', 'USER', 'LABEL', 'CREATED', 'LAST USED'],
            items.map((t) => [t.id, t.user, t.label, t.createdAt, t.lastUsedAt ?? 'never']),
          ),
      );
    });
  tokens
    .command('revoke <id>')
    .description('revoke an API token')
    .option('--json', 'print JSON')
    .action(async (id: string, options: JsonOption) => {
      const tokenId = parseId(id);
      await (await deps.auth()).revokeToken(tokenId);
      out(options).result({ revoked: tokenId }, (r) => `revoked token ${r.revoked}`);
    });
}
