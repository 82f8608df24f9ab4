import { FieldErrors } from '@app/domain';
import { Sql } from '../db/sql';
import { ValidationError } from '../errors';

/** How many of the population's cohorts an error names (the rest are counted). */
const KNOWN_SHOWN = 20;

/**
 * A cohort selector must name cohorts the imported population has: a typo ('helth') would otherwise make a wave that
 * starts, selects nobody and reports "completed" with nothing reopened. Checked when a wave is created (its selector
 * cannot change after); throws one ValidationError naming each unknown cohort's field and the cohorts there are. One statement: each
 * cohort named stops at its first account (`cohorts @>`, no index: the wave's start reads them the same way); an
 * unknown one reads every account (174 ms for 200,000 on this machine), and the population's list (68 ms) is read only
 * then, to say what there is. A rare command's error path: no index kept for it (it would slow every import).
 */
export async function checkCohortsExist(sql: Sql, selector: unknown): Promise<void> {
  const s = selector as { type?: unknown; cohorts?: unknown } | null;
  if (s?.type !== 'cohorts' || !Array.isArray(s.cohorts)) return;
  const cohorts = s.cohorts as string[];
  const rows = await sql<{ i: number; name: string }>(
    `SELECT c.i::int AS i, c.name FROM unnest($1::text[]) WITH ORDINALITY AS c(name, i)
      WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.cohorts @> ARRAY[c.name])`,
    [cohorts],
  );
  if (!rows.length) return;
  const known = await sql<{ name: string; n: number }>(
    `SELECT name, count(*) OVER ()::int AS n FROM (SELECT DISTINCT unnest(cohorts) AS name FROM accounts) k
      ORDER BY name LIMIT ${KNOWN_SHOWN}`,
  );
  const total = known[0]?.n ?? 0;
  const there =
    total === 0
      ? 'no account is imported yet'
      : `the population's cohorts: ${known.map((k) => k.name).join(', ')}${total > known.length ? ` and ${total - known.length} more` : ''}`;
  const f = new FieldErrors();
  for (const { i, name } of rows) {
    f.add(`selector.cohorts[${i - 1}]`, `is ${JSON.stringify(name)}, a cohort no imported account is in (${there})`);
  }
  throw new ValidationError(f.errors);
}
