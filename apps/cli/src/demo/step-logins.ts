import { imapLogin, pop3Login, type LoginAnswer } from '@app/testing';
import type { Account } from './api.types';
import { DEMO_MAIL_PASSWORD } from './demo-dovecot';
import { findAccount, type DemoAccount } from './population';
import type { SupportCast } from './step-incident';
import type { Story } from './story';

/**
 * `--mailstore=dovecot` ends with the proof: a few accounts log in to the real Dovecot over IMAP (LOGIN) and POP3
 * (USER/PASS) with their right password, and what Dovecot answers is shown next to what the service says of each
 * account. Returns the accounts where the two disagree (the story fails then), and fails when no login succeeded or
 * none was refused (the story must show both).
 */
export async function showRealLogins(story: Story, cast: SupportCast): Promise<string[]> {
  const { term, config } = story;
  if (!config.dovecot) return [];
  const { imapPort, pop3Port } = config.dovecot;
  const { bold, green, red } = term.paint;
  term.say();
  term.say(bold('6. Real logins') + ` (IMAP and POP3 on the demo's Dovecot, 127.0.0.1:${imapPort} and :${pop3Port})`);
  const find = (why: string, matches: (a: DemoAccount) => boolean) => ({
    why,
    login: findAccount(config.accounts, config.incidentAt, (a) => !used.has(a.login) && matches(a)).login,
  });
  const used = new Set([cast.heldLogin, cast.reblockLogin]);
  const held = (a: DemoAccount) => a.leaked && !a.reset;
  const cases = [
    find('health professional, opened by wave 1', (a) => a.cohort === 'health' && !held(a)),
    find('opened by wave 2', (a) => a.cohort === 'general' && !held(a)),
    { why: 'held, opened by support (override)', login: cast.heldLogin },
    { why: "wave 1's change rolled back by support", login: cast.reblockLogin },
    find('leaked, password never reset: held', (a) => a.cohort === 'general' && held(a)),
  ];
  const disagreements: string[] = [];
  const seen = { ok: 0, refused: 0 };
  const shown = (p: string, a: LoginAnswer) => (a.ok ? green : red)(`${p} ${a.ok ? 'OK' : 'refused'}`.padEnd(12));
  for (const { why, login } of cases) {
    const account = await story.support.get<Account>(`/accounts/${encodeURIComponent(login)}`);
    const [imap, pop3] = [
      await imapLogin(imapPort, login, DEMO_MAIL_PASSWORD),
      await pop3Login(pop3Port, login, DEMO_MAIL_PASSWORD),
    ];
    for (const a of [imap, pop3]) seen[a.ok ? 'ok' : 'refused']++;
    term.say(`   ${login.padEnd(24)} ${shown('IMAP', imap)} ${shown('POP3', pop3)} ${why}`);
    const refusal = [imap, pop3].find((a) => !a.ok);
    if (refusal) term.say(`     Dovecot: ${refusal.line}`);
    if (imap.ok !== account.access.imap || pop3.ok !== account.access.pop3) {
      disagreements.push(
        `${login}: Dovecot let in IMAP ${imap.ok}, POP3 ${pop3.ok}; the service says IMAP ${account.access.imap}, ` +
          `POP3 ${account.access.pop3}`,
      );
    }
  }
  if (seen.ok === 0 || seen.refused === 0) {
    disagreements.push(`the real logins showed ${seen.ok} successes and ${seen.refused} refusals: both were expected`);
  }
  term.say();
  return disagreements;
}
