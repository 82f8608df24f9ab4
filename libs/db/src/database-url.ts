/** Helpers on postgres:// URLs: which database a URL names, and the same server with another database or role. */
export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** The same server and database as another role (without a password: trust or peer authentication, or a .pgpass). */
export function withUser(url: string, user: string, password?: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = password === undefined ? '' : encodeURIComponent(password);
  return u.toString();
}

/** Quotes an SQL identifier (database names come from configuration, not from users). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
