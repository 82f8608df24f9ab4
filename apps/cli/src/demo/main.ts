import 'reflect-metadata';
import { ApiCallError, ApiClient } from './api-client';
import { loadDemoConfig } from './demo-config';
import { createDemoKeys } from './demo-keys';
import { int } from './format';
import { NotificationInbox } from './notification-inbox';
import { demoAccount, findAccount } from './population';
import { SecurityFeed } from './security-feed';
import { Incident, SupportCast } from './step-incident';
import { showRealLogins } from './step-logins';
import { planAndSchedule } from './step-plan';
import { importPopulation } from './step-population';
import { watchWaves } from './step-watch';
import { sleep, Story } from './story';
import { printSummary } from './summary';
import { Terminal } from './terminal';

/**
 * The demo story (`npm run demo` starts the stack, then runs this): the night of 8 May, an ops team reopens
 * POP/IMAP for 200,000 accounts in two scheduled waves, through the service's HTTP API only, on a compressed
 * clock. Exit code 0 when both waves completed and every step did what it should; 1 otherwise.
 */
async function main(story: Story): Promise<void> {
  const { term, config } = story;
  const { bold } = term.paint;
  term.say(bold('Reopening POP/IMAP after the credential-stuffing incident: the night of 8 May'));
  const mailstore = config.dovecot
    ? `Dovecot (dovecot-sql driver, IMAP 127.0.0.1:${config.dovecot.imapPort}, POP3 :${config.dovecot.pop3Port})`
    : `simulator ${config.simAdminUrl.replace(/\/_sim$/, '')}`;
  term.say(`   API ${config.apiOrigin}/api/v1 · mailstore ${mailstore}`);
  term.say();

  term.say(bold('0. API keys') + ' (one per role, made as `npm run cli -- create-api-key` makes them; stored hashed)');
  for (const [role, key] of Object.entries(story.keys)) term.say(`   ${role.padEnd(8)} ${key.name}`);
  story.inbox = await NotificationInbox.start(story);
  term.say(
    `   the incident room: a local receiver at ${story.inbox.url}, subscribed to every event ` +
      '(POST /api/v1/subscriptions; each post signed, HMAC-SHA256)',
  );
  term.say();

  await importPopulation(story);
  const [, wave2Plan] = await planAndSchedule(story);
  const supportCast = cast(story);
  const incident = new Incident(
    story,
    story.waves[1],
    wave2Plan.raisedRate ?? wave2Plan.spec.ratePerSecond,
    supportCast,
  );
  await watchWaves(story, incident);
  story.feed.stop();
  await untilHaltPosted(story);
  printSummary(story);
  const failures = [...checkOutcome(story), ...(await showRealLogins(story, supportCast))];
  if (failures.length) throw new Error(`the story did not go as planned:\n  - ${failures.join('\n  - ')}`);
}

/** The two accounts support deals with: a held health professional, and one that wave 1 will open. */
function cast(story: Story): SupportCast {
  const { accounts, incidentAt } = story.config;
  const held = (a: ReturnType<typeof demoAccount>) => a.leaked && !a.reset;
  let heldAccount;
  try {
    heldAccount = findAccount(accounts, incidentAt, (a) => a.cohort === 'health' && held(a));
  } catch {
    heldAccount = findAccount(accounts, incidentAt, held);
  }
  const reblock = findAccount(accounts, incidentAt, (a) => a.cohort === 'health' && !a.leaked);
  return { heldLogin: heldAccount.login, reblockLogin: reblock.login };
}

/** The worker posts within a poll (NOTIFY_POLL_MS, 1 s): give the halt's post a few seconds to arrive. */
async function untilHaltPosted(story: Story): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !story.inbox?.received.some((n) => n.kind === 'wave.halted')) await sleep(100);
}

/** What must have happened for the demo to count as a success (CI runs it). */
function checkOutcome(story: Story): string[] {
  const failures: string[] = [];
  for (const w of story.waves) {
    if (w.last?.state !== 'completed') failures.push(`${w.label} is ${w.last?.state ?? 'unknown'}, not completed`);
    else if (w.last.counts.enabled === 0) failures.push(`${w.label} enabled no account`);
  }
  if (!story.halt?.haltedAt) failures.push('the failed-logins gate did not halt wave 2');
  else if (!story.halt.resumedAt) failures.push('wave 2 was not resumed');
  for (const a of story.supportActions) {
    if (a.operation.state !== 'succeeded') failures.push(`support ${a.kind} of ${a.login}: ${a.operation.state}`);
  }
  if (story.supportActions.length < 2) failures.push(`only ${story.supportActions.length} support actions ran`);
  const halt = story.inbox?.received.find((n) => n.kind === 'wave.halted');
  if (!halt?.gate) failures.push('the incident room did not receive the gate halt');
  if (story.inbox?.received.some((n) => !n.signed)) failures.push('a notification came with a bad signature');
  return failures;
}

async function run(): Promise<number> {
  const config = loadDemoConfig();
  const term = new Terminal(process.stdout);
  let feed: SecurityFeed | null = null;
  let story: Story | undefined;
  try {
    const keys = await createDemoKeys(config.ownerDatabaseUrl);
    const api = (key: string) => new ApiClient(config.apiOrigin, key);
    feed = new SecurityFeed(api(keys.signals.secret), ['health', 'general']);
    story = {
      config,
      term,
      keys,
      ops: api(keys.ops.secret),
      ops2: api(keys.ops2.secret),
      support: api(keys.support.secret),
      viewer: api(keys.viewer.secret),
      signals: api(keys.signals.secret),
      feed,
      population: null,
      importReport: null,
      clock: null,
      waves: [],
      supportActions: [],
      halt: null,
      inbox: null,
      startedAt: Date.now(),
    };
    await main(story);
    return 0;
  } catch (err) {
    term.endLive();
    term.say();
    if (err instanceof ApiCallError) {
      term.say(term.paint.red(`demo: an API call failed; stopping.\n${err.message}`));
    } else {
      term.say(term.paint.red(`demo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
    }
    term.say(`demo: ${int(config.accounts)} accounts; database ${new URL(config.ownerDatabaseUrl).pathname.slice(1)}`);
    return 1;
  } finally {
    feed?.stop();
    await story?.inbox?.close();
  }
}

run().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
