// Administration of users and API tokens. A new token's secret is shown exactly once, right
// after it is created: the server keeps only its hash.
import { useState, type FormEvent } from 'react';
import { api, errorMessage } from '../api/client';
import type { CreatedToken, List, Role, TokenRecord, UserRecord } from '../api/types';
import { useResource } from '../api/use-resource';
import { formatDateTime } from '../components/format';
import { Empty, ErrorNotice, Loading } from '../components/status';
import { hasRole, useSession } from '../session';

const ROLES: Role[] = ['viewer', 'operator', 'admin'];

export function UsersPage() {
  const { user, ready } = useSession();
  if (!ready) return <Loading />;
  if (!hasRole(user, 'admin')) {
    return (
      <section>
        <h1>Users &amp; tokens</h1>
        <ErrorNotice error="Only administrators can manage users and tokens. Log in as an admin." />
      </section>
    );
  }
  return (
    <section>
      <h1>Users &amp; tokens</h1>
      <UsersAndTokens />
    </section>
  );
}

function UsersAndTokens() {
  const users = useResource('/users', (signal) => api.get<List<UserRecord>>('/users', undefined, { signal }));
  const tokens = useResource('/tokens', (signal) =>
    api.get<List<TokenRecord>>('/tokens', undefined, { signal }),
  );
  const [actionError, setActionError] = useState<string>();

  const act = async (what: string, action: () => Promise<unknown>, after: () => void) => {
    setActionError(undefined);
    try {
      await action();
      after();
    } catch (e) {
      setActionError(`${what}: ${errorMessage(e)}`);
    }
  };

  const removeUser = (name: string) => {
    if (!window.confirm(`Remove user ${name}? Their tokens stop working.`)) return;
    void act(
      `Could not remove ${name}`,
      () => api.delete(`/users/${encodeURIComponent(name)}`),
      () => {
        users.reload();
        tokens.reload();
      },
    );
  };

  const revokeToken = (token: TokenRecord) => {
    if (!window.confirm(`Revoke token ${token.label ?? token.id} of ${token.user}?`)) return;
    void act(
      'Could not revoke the token',
      () => api.delete(`/tokens/${encodeURIComponent(String(token.id))}`),
      tokens.reload,
    );
  };

  return (
    <>
      {actionError && <ErrorNotice error={actionError} />}

      <div className="panel">
        <h2>Users</h2>
        {!users.data ? (
          users.error ? (
            <ErrorNotice error={users.error} />
          ) : (
            <Loading what="Loading users" />
          )
        ) : users.data.items.length === 0 ? (
          <Empty>No users yet.</Empty>
        ) : (
          <table className="table users-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Role</th>
                <th>Created</th>
                <th aria-label="Actions" />
              </tr>
            </thead>
            <tbody>
              {users.data.items.map((record) => (
                <tr key={record.name} data-user={record.name}>
                  <td>{record.name}</td>
                  <td>
                    <span className="role">{record.role}</span>
                  </td>
                  <td>{formatDateTime(record.createdAt)}</td>
                  <td>
                    <button type="button" className="danger" onClick={() => removeUser(record.name)}>
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <AddUserForm onAdded={users.reload} />
      </div>

      <div className="panel">
        <h2>API tokens</h2>
        <CreateTokenForm users={users.data?.items ?? []} onCreated={tokens.reload} />
        {!tokens.data ? (
          tokens.error ? (
            <ErrorNotice error={tokens.error} />
          ) : (
            <Loading what="Loading tokens" />
          )
        ) : tokens.data.items.length === 0 ? (
          <Empty>No tokens yet.</Empty>
        ) : (
          <table className="table tokens-table">
            <thead>
              <tr>
                <th>Id</th>
                <th>User</th>
                <th>Label</th>
                <th>Created</th>
                <th>Last used</th>
                <th aria-label="Actions" />
              </tr>
            </thead>
            <tbody>
              {tokens.data.items.map((token) => (
                <tr key={token.id} data-token={token.id}>
                  <td className="code">{token.id}</td>
                  <td>{token.user}</td>
                  <td>{token.label ?? <span className="muted">–</span>}</td>
                  <td>{formatDateTime(token.createdAt)}</td>
                  <td>
                    {token.lastUsedAt ? (
                      formatDateTime(token.lastUsedAt)
                    ) : (
                      <span className="muted">never</span>
                    )}
                  </td>
                  <td>
                    <button type="button" className="danger" onClick={() => revokeToken(token)}>
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </>
  );
}

function AddUserForm({ onAdded }: { onAdded: () => void }) {
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await api.post('/users', { name, role, password });
      setName('');
      setPassword('');
      setRole('viewer');
      onAdded();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="form form-inline" aria-label="Add user" onSubmit={(event) => void onSubmit(event)}>
      <h3>Add a user</h3>
      <label>
        Name
        <input name="name" value={name} onChange={(event) => setName(event.target.value)} required />
      </label>
      <label>
        Role
        <select name="role" value={role} onChange={(event) => setRole(event.target.value as Role)}>
          {ROLES.map((option) => (
            <option key={option} value={option}>
              {option}
            </option>
          ))}
        </select>
      </label>
      <label>
        Password
        <input
          name="password"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(event) => setPassword(event.target.value)}
          required
        />
      </label>
      <button type="submit" className="primary" disabled={busy}>
        Add user
      </button>
      {error && <ErrorNotice error={error} />}
    </form>
  );
}

function CreateTokenForm({ users, onCreated }: { users: UserRecord[]; onCreated: () => void }) {
  const [owner, setOwner] = useState('');
  const [label, setLabel] = useState('');
  const [created, setCreated] = useState<CreatedToken>();
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const selected = owner || users[0]?.name || '';

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    setCreated(undefined);
    setCopied(false);
    try {
      const body = label.trim() ? { user: selected, label: label.trim() } : { user: selected };
      setCreated(await api.post<CreatedToken>('/tokens', body));
      setLabel('');
      onCreated();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  const copy = async (token: string) => {
    try {
      await navigator.clipboard.writeText(token);
      setCopied(true);
    } catch {
      // Clipboard access can be refused (insecure origin, permissions): the text stays selectable.
      setCopied(false);
    }
  };

  return (
    <>
      <form className="form form-inline" aria-label="Create token" onSubmit={(event) => void onSubmit(event)}>
        <h3>Create a token</h3>
        <label>
          User
          <select name="user" value={selected} onChange={(event) => setOwner(event.target.value)} required>
            {users.map((record) => (
              <option key={record.name} value={record.name}>
                {record.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Label
          <input
            name="label"
            value={label}
            placeholder="e.g. upload script"
            onChange={(event) => setLabel(event.target.value)}
          />
        </label>
        <button type="submit" className="primary" disabled={busy || !selected}>
          Create token
        </button>
        {error && <ErrorNotice error={error} />}
      </form>
      {created && (
        <div className="notice notice-token" data-testid="new-token">
          <p>
            <strong>Copy this token now — it will not be shown again.</strong> Send it as{' '}
            <code>Authorization: Bearer &lt;token&gt;</code>.
          </p>
          <div className="token-row">
            <input
              className="token-value"
              readOnly
              value={created.token}
              aria-label="New token"
              onFocus={(event) => event.target.select()}
            />
            <button type="button" onClick={() => void copy(created.token)}>
              {copied ? 'Copied' : 'Copy'}
            </button>
            <button type="button" onClick={() => setCreated(undefined)}>
              Done
            </button>
          </div>
        </div>
      )}
    </>
  );
}
