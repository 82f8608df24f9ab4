import type { ImportReport } from './api.types';
import { duration, int, percent } from './format';
import { populationCsv, summarizePopulation } from './population';
import { Story } from './story';

/**
 * Step 1: the population. The mailstore (the simulator) already holds every account, POP/IMAP off since the
 * incident; the service learns about them from the ops team's CSV export, streamed to POST /accounts/import.
 */
export async function importPopulation(story: Story): Promise<void> {
  const { term, config } = story;
  const { bold } = term.paint;
  term.say(bold('1. The population'));
  const p = summarizePopulation(config.accounts, config.incidentAt);
  story.population = p;
  term.say(
    `   ${int(p.total)} accounts: ${int(p.health)} health professionals (${percent(p.health / p.total)}), ` +
      `${int(p.general)} general`,
  );
  term.say(
    `   ${int(p.leaked)} on the leaked list (${percent(p.leaked / p.total)}): ${int(p.leakedReset)} changed their ` +
      `password after the incident (${config.incidentAt.toISOString()}), ${int(p.held)} did not → held back ` +
      `as password_reset_required`,
  );

  await ensureMailstoreKnows(story, p.total);

  const started = Date.now();
  const report = await story.ops.postCsv<ImportReport>(
    '/accounts/import',
    populationCsv(config.accounts, config.incidentAt),
  );
  story.importReport = report;
  term.say(
    `   POST /api/v1/accounts/import (text/csv, streamed): ${int(report.lines)} lines, ${int(report.valid)} valid, ` +
      `${int(report.rejected)} rejected → ${report.status}: ${int(report.inserted)} new, ${int(report.updated)} ` +
      `updated, ${int(report.unchanged)} unchanged (server ${duration(report.durationMs)}, ` +
      `round trip ${duration(Date.now() - started)})`,
  );
  term.say();
}

/** The simulator is seeded with user1..userN by scripts/demo.js (SIM_ACCOUNTS); reseed it if it was not. Dovecot: seeded too. */
async function ensureMailstoreKnows(story: Story, count: number): Promise<void> {
  const { term, config } = story;
  if (config.dovecot) {
    // scripts/demo.js made the passdb table with every mailbox (apps/cli/src/demo/demo-dovecot.ts).
    term.say(
      `   the mailstore (Dovecot, its SQL passdb on PostgreSQL) holds ${int(count)} mailboxes, POP and IMAP off for all`,
    );
    return;
  }
  const stats = (await simJson(`${config.simAdminUrl}/stats`, 'GET')) as { accounts: number };
  if (stats.accounts >= count) {
    term.say(`   the mailstore (simulator) holds ${int(stats.accounts)} mailboxes, POP and IMAP off for all`);
    return;
  }
  term.say(`   the mailstore (simulator) holds ${int(stats.accounts)} mailboxes: reseeding it with ${int(count)}…`);
  await simJson(`${config.simAdminUrl}/reset`, 'POST', { accounts: count });
}

async function simJson(url: string, method: string, body?: unknown): Promise<unknown> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url} answered ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as unknown;
}
