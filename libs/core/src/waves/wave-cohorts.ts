import { WaveSelectorJson } from '@app/db';
import { FieldErrors } from '@app/domain';
import { Sql } from '../db/sql';
import { ValidationError } from '../errors';

/** How many of the population's cohorts an error names (the rest are counted). */
const KNOWN_SHOWN = 20;

/**
 * A cohort selector must name cohorts the imported population has: a typo ('helth') would otherwise make a wave that
 * starts, selects nobody and reports "completed" with nothing reopened. Checked when a wave is created (its selector
 * cannot change after), on input already validated; throws one ValidationError naming each unknown cohort's field and
 * the cohorts there are. One statement when all are known: each stops at its first account (`cohorts @>`, no index:
 * the wave's start reads them the same way). An unknown one reads every account (174 ms for 200,000 on this machine),
 * and a second statement then lists the population's cohorts (68 ms). A rare command's error path: no index kept for
 * it (it would slow every import).
 */
export async function checkCohortsExist(sql: Sql, selector: WaveSelectorJson): Promise<void> {
  if (selector.type !== 'cohorts') return;
  const cohorts = selector.cohorts;
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
