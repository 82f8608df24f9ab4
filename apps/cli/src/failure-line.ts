import { isOperatorFix } from '@app/config';

/** The URLs the CLI connects with, as it was given them. */
export interface CliUrls {
  DATABASE_URL: string;
  OWNER_DATABASE_URL: string;
}

/** PostgreSQL's answers to a login it refuses (SQLSTATE): the role, its password or the database is not the URL's. */
const LOGIN_REFUSED: Record<string, string> = {
  '28000': 'the role does not exist or may not log in from here',
  '28P01': 'wrong password',
  '3D000': 'the database does not exist (migrate creates it)',
};

/** A URL fit for a log line: the password replaced by `***`. */
function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}

/** Where the two URLs point, and how compose's PostgreSQL wants them: the usual cause is one for the other. */
function urlsAndComposeHint(urls: CliUrls): string {
  return (
    `OWNER_DATABASE_URL (migrate, API keys) is ${redactedUrl(urls.OWNER_DATABASE_URL)}; DATABASE_URL (import-accounts) ` +
    `is ${redactedUrl(urls.DATABASE_URL)}. With docker-compose.yml's PostgreSQL run the CLI in the image ` +
    `("docker compose run --rm admin <command>"), or from here set ` +
    `OWNER_DATABASE_URL=postgres://reopen:<REOPEN_OWNER_DB_PASSWORD>@127.0.0.1:5432/reopen and ` +
    `DATABASE_URL=postgres://reopen_app:<REOPEN_APP_DB_PASSWORD>@127.0.0.1:5432/reopen (README, "Docker Compose")`
  );
}

/**
 * The one line the CLI prints when a command fails. A failure an operator fixes (PostgreSQL unreachable, a login
 * refused, a role to set up) is said without a stack, with the URLs in play (passwords hidden) and what compose
 * expects; anything else is a bug and keeps its stack.
 */
export function cliFailureLine(err: unknown, urls: CliUrls): string {
  if (isOperatorFix(err)) return err.message;
  const e = err as { code?: string; message?: string; address?: string; port?: number };
  if (e.code === 'ECONNREFUSED') {
    return `cannot reach PostgreSQL at ${e.address ?? '?'}:${e.port ?? '?'}. ${urlsAndComposeHint(urls)}.`;
  }
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') {
    const host = (err as { hostname?: string }).hostname ?? '?';
    return `cannot resolve PostgreSQL's host "${host}" (${e.code}). ${urlsAndComposeHint(urls)}.`;
  }
  if (typeof e.code === 'string' && Object.hasOwn(LOGIN_REFUSED, e.code)) {
    return `PostgreSQL refused the login: ${e.message ?? e.code} (${LOGIN_REFUSED[e.code]}). ${urlsAndComposeHint(urls)}.`;
  }
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
