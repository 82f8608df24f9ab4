import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, BrowserContext, chromium, Locator, Page } from 'playwright-core';
import type { RateHistory, WaveProgress } from '@app/core';
import { freeLoopbackPort, pollUntil, PrivatePrometheus, requireChromium } from '@app/testing';
import { ApiHarness, startApiHarness } from './api-harness';

/** Slow enough to watch: about 100 s of sending at the mailstore's 30 accounts per second. */
const ACCOUNTS = 3000;
/** What the simulator advertises (its capabilities) and enforces: below the wave's 100/s, so the page says why. */
const MAILSTORE_RATE = 30;
const SCREENSHOT = join(__dirname, '../../docs/status-page.png');
const SCREENSHOT_FR = join(__dirname, '../../docs/status-page-fr.png');
/** 24-hour clock with a zone: "14:05:09 UTC", "15:05:09 UTC+1"; never AM/PM. */
const CLOCK = /\b([01]\d|2[0-3]):[0-5]\d:[0-5]\d (UTC|GMT|CET|CEST)([+-]\d{1,2})?\b/;
const NAME = 'health first, watched';

describe('the status page at / in a real browser (Chromium, the built API, worker, simulator, Prometheus)', () => {
  let api: ApiHarness;
  let prometheus: PrivatePrometheus | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let french: BrowserContext | undefined;
  let frPage: Page;
  let waveId = '';
  /** What the pages' consoles and runtimes reported: a CSP violation or a script error shows up here. */
  const problems: string[] = [];

  beforeAll(async () => {
    const executablePath = requireChromium(); // before the minute of setup it would waste
    const promPort = await freeLoopbackPort();
    api = await startApiHarness('page', {
      accounts: ACCOUNTS,
      worker: true,
      sim: {
        rateLimits: {
          requestsPerSecond: 1000,
          requestBurst: 1000,
          accountUpdatesPerSecond: MAILSTORE_RATE,
          accountUpdateBurst: 500,
        },
      },
      engineEnv: { PROMETHEUS_URL: `http://127.0.0.1:${promPort}` },
    });
    // Nothing to scrape: the gate's query is a constant, measured every second like any other.
    prometheus = await PrivatePrometheus.create([], 1, { port: promPort });
    await prometheus.start();
    await api.h.importPopulation({ count: ACCOUNTS, seed: 11 });
    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
    });
    const watch = (p: Page) => {
      p.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      p.on('console', (msg) => {
        // Refused keys are 401s the browser logs as failed loads: expected here. Anything else is a problem.
        if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) problems.push(msg.text());
      });
      return p;
    };
    const english = await browser.newContext({
      locale: 'en-GB',
      timezoneId: 'UTC',
      viewport: { width: 1366, height: 900 },
    });
    page = watch(await english.newPage());
    // A newcomer in the French incident room: the browser's language picks the page's.
    french = await browser.newContext({
      locale: 'fr-FR',
      timezoneId: 'Europe/Paris',
      viewport: { width: 1366, height: 900 },
    });
    frPage = watch(await french.newPage());
  });
  afterAll(async () => {
    try {
      await browser?.close();
      await prometheus?.destroy();
    } finally {
      await api?.close();
    }
  });

  const text = async (locator: Locator) => ((await locator.textContent()) ?? '').trim();
  const waitForText = (locator: Locator, pattern: RegExp, description: string, timeoutMs = 15_000) =>
    pollUntil(async () => pattern.test(await text(locator)) || undefined, {
      timeoutMs,
      intervalMs: 100,
      description,
    });
  const useKey = async (p: Page, secret: string, label = 'API key', button = 'Use key') => {
    await p.getByLabel(label).fill(secret);
    await p.getByRole('button', { name: button }).click();
  };
  const progress = async () =>
    (await api.call<WaveProgress>('GET', `/waves/${waveId}/progress`, { key: 'viewer' })).body;
  const history = async () => (await api.call<RateHistory>('GET', `/waves/${waveId}/history`, { key: 'viewer' })).body;
  const card = (p: Page) => p.locator(`article[data-wave-id="${waveId}"]`);
  const field = (p: Page, name: string) => card(p).locator(`[data-field="${name}"]`);
  /** Accept the next confirmation, returning its question. */
  const confirmNext = (p: Page) =>
    new Promise<string>((resolve) => {
      p.once('dialog', (dialog) => {
        resolve(dialog.message());
        void dialog.accept();
      });
    });
  /** The actions the audit pane lists, newest first. */
  const auditActions = async (p: Page) =>
    Promise.all((await p.locator('#audit li').all()).map((li) => li.getAttribute('data-action')));
  /** Bars on the chart against the API's samples with something sent (the chart draws those). */
  const chartMatchesApi = async (p: Page) => {
    const h = await history();
    const sent = h.samples.filter((s) => s.forwardPerSecond > 0).length;
    const bars = await field(p, 'chart').locator('rect:not(.rollback)').count();
    return sent > 0 && bars === sent ? { sent, h } : undefined;
  };

  it('is served without a key, under a self-only Content-Security-Policy', async () => {
    const res = await fetch(`${api.api.origin}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'self';/);
    expect(await res.text()).toContain('<script src="app.js" defer></script>');
    for (const file of ['app.js', 'i18n.js', 'format.js']) {
      const script = await fetch(`${api.api.origin}/${file}`);
      expect([file, script.status, script.headers.get('content-type')]).toEqual([
        file,
        200,
        'text/javascript; charset=utf-8',
      ]);
    }
    // The page is public; its data is not.
    expect((await fetch(`${api.api.origin}/api/v1/progress`)).status).toBe(401);
  });

  it('says clearly when a key is refused', async () => {
    await page.goto(`${api.api.origin}/`);
    await useKey(page, 'not-a-real-key');
    await waitForText(page.locator('#alert'), /^Key refused: the API key is unknown or revoked/, 'refused-key message');
    expect(await page.locator('#alert').isVisible()).toBe(true);
    expect(await page.locator('article.wave').count()).toBe(0);
  });

  it("shows a running wave to a viewer with the API's figures, each in its unit, and why it is below its target", async () => {
    const created = await api.call('POST', '/waves', {
      body: {
        name: NAME,
        selector: { type: 'cohorts', cohorts: ['general', 'health'] },
        protocols: ['imap'],
        ratePerSecond: 100,
        batchSize: 20,
        gates: [
          {
            name: 'provider-errors',
            metric: 'mailstore_error_rate',
            windowSeconds: 60,
            minSamples: 20,
            threshold: 0.05,
            action: 'pause',
          },
          {
            name: 'prom-errors',
            metric: 'prometheus',
            query: 'vector(0.02)',
            intervalSeconds: 1,
            successCondition: 'result < 0.05',
            action: 'pause',
          },
        ],
      },
    });
    expect(created.status).toBe(201);
    waveId = created.body.id;
    expect((await api.call('POST', `/waves/${waveId}/start`)).status).toBe(200);

    await page.goto(`${api.api.origin}/`);
    await useKey(page, api.secrets.viewer);
    await card(page).waitFor({ state: 'visible', timeout: 15_000 });
    expect(await text(card(page).locator('h3'))).toBe(NAME);

    // Progress advances on screen: two different done counts, read from the page between polls.
    const seen = new Set<string>();
    await pollUntil(
      async () => {
        seen.add(await text(field(page, 'done')));
        return seen.size >= 2 || undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, description: 'two different done counts on the page' },
    );
    expect([...seen].every((s) => new RegExp(`^[\\d,]+ of ${ACCOUNTS.toLocaleString('en')}$`).test(s))).toBe(true);
    expect(await card(page).getByRole('progressbar').getAttribute('value')).not.toBeNull();
    await waitForText(page.locator('#status'), /viewer key: read only/, 'viewer role noticed');
    expect(await text(page.locator('#audit-note'))).toMatch(/ops keys only/);
    expect(await card(page).locator('button[data-action]:visible').count()).toBe(0);
    expect(await card(page).locator('form[data-form="set-rate"]').isVisible()).toBe(false);

    // The figures the API gives, as the page writes them: the target, a current rate, an ETA at a 24-hour time.
    const running = await progress();
    expect(running.rate.targetPerSecond).toBe(100);
    expect(await text(field(page, 'target'))).toBe('100/s');
    expect(await text(field(page, 'rate'))).toMatch(/^[\d.,]+\/s$/);
    await waitForText(
      field(page, 'eta'),
      new RegExp(`^\\d+ (s|min)\\b.*\\(at ${CLOCK.source}\\)$`),
      'ETA with a clock',
    );

    // The gate threshold of 0.05 is a fraction: 5 %, not "0.1"; the value too is in percent.
    const errorsRow = field(page, 'gates').locator('tr', { hasText: 'provider-errors' });
    await waitForText(errorsRow.locator('td').nth(2), /^(—|[\d.]+ %) \/ 5 %$/, 'error-rate gate in percent');

    // Why it is slower than its 100/s: the mailstore's advertised limit (its capabilities, read by the worker).
    await pollUntil(async () => (await progress()).pace.mailstoreRatePerSecond === MAILSTORE_RATE || undefined, {
      timeoutMs: 15_000,
      description: 'the capabilities read',
    });
    expect((await progress()).pace.slowReasons).toContain('mailstore_rate_limit');
    await waitForText(
      field(page, 'slow'),
      new RegExp(
        `^Below its target because .*the mailstore accepts at most ${MAILSTORE_RATE}/s \\(its advertised rate limit\\)\\. ` +
          'At most [\\d.]+/s now\\.$',
      ),
      'the mailstore limit in words',
    );

    // Its 429s: the shared pace drops and the page says by how much (the API's factor, as a percentage).
    api.h.sim.setFaults({ rate429: 0.5, retryAfterSeconds: 1 });
    try {
      await pollUntil(async () => ((await progress()).pace.factor ?? 1) < 1 || undefined, {
        timeoutMs: 20_000,
        description: 'the pace reduced after 429s',
      });
      await waitForText(
        field(page, 'slow'),
        /the pace is down to [\d.]+ % of the set rate after the mailstore’s 429 answers/,
        'the reduced pace in words',
        20_000,
      );
    } finally {
      api.h.sim.setFaults({});
    }

    // Each measurement of the Prometheus gate, from GET /waves/{id}/gate-measurements.
    const promRow = field(page, 'gates').locator('tr', { hasText: 'prom-errors' });
    await waitForText(
      promRow.locator('td.gate-history'),
      new RegExp(`^\\d+ measured, newest first: 0\\.02 \\(successful\\).* \\(last at ${CLOCK.source}\\)$`),
      'the measurements on the page',
    );
    const measured = (await api.call('GET', `/waves/${waveId}/gate-measurements?limit=5`, { key: 'viewer' })).body;
    expect(measured[0]).toMatchObject({ gate: 'prom-errors', phase: 'successful', value: 0.02 });
    expect(await promRow.locator('td').nth(2).textContent()).toBe('0.02 / result < 0.05');
  }, 150_000);

  it('lets ops set the rate and pause after a confirmation; the paused wave keeps its chart and shows no rate', async () => {
    await useKey(page, api.secrets.ops);
    const form = card(page).locator('form[data-form="set-rate"]');
    await form.waitFor({ state: 'visible', timeout: 15_000 });
    await form.getByRole('spinbutton').fill('40');
    const asked = confirmNext(page);
    await form.getByRole('button', { name: 'Set rate' }).click();
    expect(await asked).toBe(`Set the rate of wave "${NAME}" from 100/s to 40/s?`);
    await pollUntil(
      async () => (await api.call('GET', `/waves/${waveId}`, { key: 'viewer' })).body.ratePerSecond === 40 || undefined,
      { timeoutMs: 10_000, description: 'the new rate in the service' },
    );
    await waitForText(field(page, 'target'), /^40\/s$/, 'the new target on the page');
    await waitForText(page.locator('#status'), /rate set to 40\/s/, 'the change confirmed');
    // Still above what the mailstore takes: the page keeps saying why the wave is below its target.
    await waitForText(
      field(page, 'slow'),
      new RegExp(`the mailstore accepts at most ${MAILSTORE_RATE}/s`),
      'the reason, at the new rate',
      20_000,
    );
    await waitForText(page.locator('#audit'), /wave\.updated/, 'the change in the audit list');
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    const pause = card(page).getByRole('button', { name: 'Pause' });
    await pause.waitFor({ state: 'visible', timeout: 15_000 });
    const question = confirmNext(page);
    await pause.click();
    expect(await question).toMatch(/^Pause wave "health first, watched"\?/);

    // The wave is paused in the service, and the page says so.
    const paused = await pollUntil(
      async () => {
        const p = await progress();
        return p.state === 'paused' ? p : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100, description: 'wave paused' },
    );
    expect(paused.statusReason).toBe('ops');
    expect(paused.done).toBeLessThan(ACCOUNTS);
    expect(paused).toMatchObject({ etaAt: null, rate: { currentPerSecond: null }, pace: { slowReasons: [] } });
    await waitForText(field(page, 'state'), /^paused$/, 'paused state on the page');
    await waitForText(field(page, 'statusText'), /^paused by ops/, 'pause reason on the page');
    await card(page).getByRole('button', { name: 'Resume' }).waitFor({ state: 'visible' });
    expect(await pause.isVisible()).toBe(false);
    // No current rate, no ETA, no reason for slowness: it does not send.
    await waitForText(field(page, 'rate'), /^— \(not sending\)$/, 'no current rate');
    expect(await text(field(page, 'eta'))).toBe('—');
    expect(await text(field(page, 'slow'))).toBe('');
    // Paused at every look over the next two polls: the overview (shared, cached) can be older than the view the
    // page read right after the command, and must not put the old state back on screen.
    const states = new Set<string | null>();
    const polls = new Set<string>([await text(page.locator('#updated'))]);
    await pollUntil(
      async () => {
        states.add(await card(page).getAttribute('data-state'));
        polls.add(await text(page.locator('#updated')));
        return polls.size > 2 || undefined;
      },
      { timeoutMs: 10_000, intervalMs: 50, description: 'two more polls' },
    );
    expect([...states]).toEqual(['paused']);
    expect(await text(page.locator('#updated'))).toMatch(new RegExp(`^updated ${CLOCK.source}$`));

    // The chart is the API's history of the whole wave: one bar per sample that sent something, not blank.
    const { h } = await pollUntil(() => chartMatchesApi(page), {
      timeoutMs: 15_000,
      description: "the chart's bars equal to the API's samples",
    });
    const caption = await text(field(page, 'chartCaption'));
    const peak = Math.max(...h.samples.map((s) => s.forwardPerSecond));
    expect(caption).toMatch(
      new RegExp(`^Accounts per second since the start at ${CLOCK.source} \\(one bar per \\d+ s\\)`),
    );
    // No spike far above the mailstore's 30/s (a bucket's rate is what its batches carried over its width).
    expect({ caption, peak, plausible: peak > 0 && peak <= 200 }).toMatchObject({ plausible: true });

    // The audit pane lists the wave's own events, not its members'; those are behind the wave's link.
    await waitForText(page.locator('#audit'), /wave\.pause/, 'the pause in the audit list');
    const actions = await auditActions(page);
    expect(actions).toEqual(expect.arrayContaining(['wave.pause', 'wave.updated', 'wave.start']));
    expect(actions.filter((a) => a?.startsWith('member.'))).toEqual([]);

    await card(page).getByRole('link', { name: 'Member events of this wave' }).click();
    await waitForText(page.locator('#audit-title'), new RegExp(`^Member events: ${NAME}$`), 'the member view');
    await waitForText(page.locator('#audit'), /member\.enabled/, "the wave's member events");
    const memberActions = await auditActions(page);
    expect(memberActions.every((a) => a?.startsWith('member.'))).toBe(true);
    await page.getByRole('link', { name: '← Wave events' }).click();
    await waitForText(page.locator('#audit'), /wave\.pause/, 'back to the wave events');
    expect(problems).toEqual([]);
  }, 120_000);

  it('shows a newcomer the whole wave at once, in French from the browser’s language, and back in English', async () => {
    await frPage.goto(`${api.api.origin}/`);
    expect(await text(frPage.locator('h1'))).toBe('Réouverture des accès POP/IMAP');
    await useKey(frPage, api.secrets.ops, 'Clé d’API', 'Utiliser la clé');
    await card(frPage).waitFor({ state: 'visible', timeout: 15_000 });
    // The history is the API's: the chart shows the wave before this page was opened.
    await pollUntil(() => chartMatchesApi(frPage), { timeoutMs: 15_000, description: 'the whole chart at once' });
    expect(await text(field(frPage, 'chartCaption'))).toMatch(
      new RegExp(`^Comptes par seconde depuis le début à ${CLOCK.source} \\(une barre par \\d+ s\\)`),
    );
    await waitForText(field(frPage, 'state'), /^en pause$/, 'the state in French');
    expect(await text(field(frPage, 'statusText'))).toBe('mise en pause par ops');
    expect(await text(field(frPage, 'rate'))).toBe('— (n’envoie pas)');
    expect(await text(field(frPage, 'target'))).toBe('40/s');
    // French numbers: "1 234 sur 3 000" (narrow no-break spaces), the same counts as the API's.
    await pollUntil(
      async () =>
        (await text(field(frPage, 'done'))) ===
          `${(await progress()).done.toLocaleString('fr-FR')} sur ${ACCOUNTS.toLocaleString('fr-FR')}` || undefined,
      { timeoutMs: 10_000, description: "the API's done count, written the French way" },
    );
    expect(await text(frPage.locator('#waves-title'))).toMatch(new RegExp(`^Vagues mis à jour à ${CLOCK.source}$`));
    expect(await text(frPage.locator('#audit-title'))).toBe('Événements des vagues');
    expect(await frPage.getByRole('button', { name: 'Reprendre' }).isVisible()).toBe(true);
    expect(await text(card(frPage).locator('th').first())).toBe('Garde-fou');

    await frPage.getByLabel('Langue').selectOption('en');
    await waitForText(frPage.locator('h1'), /^Reopening POP\/IMAP access$/, 'English on demand');
    expect(await text(field(frPage, 'statusText'))).toBe('paused by ops');
    await frPage.getByLabel('Language').selectOption('fr');
    await waitForText(frPage.locator('h1'), /^Réouverture des accès POP\/IMAP$/, 'French again');
  }, 60_000);

  it('lets ops cancel after a confirmation (no rate, no ETA), then roll back: the rollback line is the API figures', async () => {
    const cancel = card(frPage).getByRole('button', { name: 'Annuler la vague' });
    const question = confirmNext(frPage);
    await cancel.click();
    expect(await question).toMatch(new RegExp(`^Annuler la vague « ${NAME} » \\?`));
    const cancelled = await pollUntil(
      async () => {
        const p = await progress();
        return p.state === 'cancelled' ? p : undefined;
      },
      { timeoutMs: 10_000, description: 'wave cancelled' },
    );
    expect(cancelled).toMatchObject({ etaAt: null, rate: { currentPerSecond: null } });
    expect(cancelled.counts.cancelled).toBeGreaterThan(0);
    await waitForText(field(frPage, 'state'), /^annulée$/, 'cancelled on the page');
    expect(await text(field(frPage, 'statusText'))).toBe('annulée : les comptes en attente n’ont pas été traités');
    expect(await text(field(frPage, 'rate'))).toBe('— (n’envoie pas)');
    expect(await text(field(frPage, 'eta'))).toBe('—');
    // A batch that was waiting out a Retry-After when the wave stopped ends cancelled a moment after the wave does:
    // compare once nothing is left in flight or waiting.
    const settled = await pollUntil(
      async () => {
        const p = await progress();
        const c = p.counts as Record<string, number>;
        return (c.in_flight ?? 0) + (c.pending ?? 0) + (c.awaiting_retry ?? 0) === 0 ? p : undefined;
      },
      { timeoutMs: 20_000, description: 'the cancel settled' },
    );
    await waitForText(
      field(frPage, 'cancelled'),
      new RegExp(`^${settled.counts.cancelled.toLocaleString('fr-FR')}$`),
      'the settled cancelled count on the page',
    );
    await waitForText(frPage.locator('#audit'), /wave\.cancel/, 'the cancel in the audit list');
    // Only a rollback is left to ask of a cancelled wave.
    expect(await card(frPage).getByRole('button', { name: 'Revenir en arrière' }).isVisible()).toBe(true);
    expect(await cancel.isVisible()).toBe(false);
    expect(await card(frPage).locator('form[data-form="set-rate"]').isVisible()).toBe(false);
    // Its chart stays: the whole run, from the API.
    await pollUntil(() => chartMatchesApi(frPage), { timeoutMs: 15_000, description: 'the chart of a finished wave' });
    await frPage.screenshot({ path: SCREENSHOT_FR, fullPage: true });

    // Support rolls one member back: a rollback line for it, and the wave's enabled count still stands as such.
    const [member] = await api.h.db.dataSource.query<{ login: string }[]>(
      `SELECT a.login FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND m.state = 'enabled' ORDER BY m.seq LIMIT 1`,
      [waveId],
    );
    const one = await api.call('POST', `/accounts/${member.login}/rollback`, {
      key: 'support',
      body: { reason: 'opened by mistake', ticket: 'SUP-7' },
    });
    expect(one.status).toBe(202);
    await waitForText(
      field(frPage, 'rollback'),
      /^Retour arrière : 1 sur 1 traités ; 1 restaurés/,
      'one member rolled back',
    );
    expect(await text(card(frPage).locator('[data-field="enabledLabel"]'))).toBe('Rouverts');

    // Rolled back from the page: what the wave enabled is history, the rollback line says what is closed again.
    const rollback = card(frPage).getByRole('button', { name: 'Revenir en arrière' });
    const asked = confirmNext(frPage);
    await rollback.click();
    expect(await asked).toMatch(new RegExp(`^Revenir en arrière sur la vague « ${NAME} » \\?`));
    const rolledBack = await pollUntil(
      async () => {
        const p = await progress();
        return p.state === 'rolled_back' ? p : undefined;
      },
      { timeoutMs: 30_000, description: 'wave rolled back' },
    );
    const rb = rolledBack.rollback!;
    expect(rb.counts.rolled_back).toBe(settled.counts.enabled);
    await waitForText(field(frPage, 'state'), /^revenue en arrière$/, 'rolled back on the page');
    expect(await text(card(frPage).locator('[data-field="enabledLabel"]'))).toBe('Rouverts avant le retour arrière');
    expect(await text(field(frPage, 'enabled'))).toBe(settled.counts.enabled.toLocaleString('fr-FR'));
    await waitForText(
      field(frPage, 'rollback'),
      new RegExp(
        `^Retour arrière : ${rb.done.toLocaleString('fr-FR')} sur ${rb.total.toLocaleString('fr-FR')} traités ; ` +
          `${rb.counts.rolled_back.toLocaleString('fr-FR')} restaurés`,
      ),
      'the rollback line',
    );
    expect(problems).toEqual([]);
  }, 90_000);

  it('says when no worker runs (GET /workers), in both languages, and nothing once one is back', async () => {
    const banner = (p: Page) => p.locator('#workers-alert');
    expect(await banner(page).isHidden()).toBe(true);
    await api.h.stopWorkers();
    try {
      await waitForText(
        banner(page),
        /^No worker is running: no wave moves, no scheduled start fires, no support change is made\. Last seen: \S+ .+\.$/,
        'the no-worker banner',
      );
      expect(await banner(page).isVisible()).toBe(true);
      await waitForText(banner(frPage), /^Aucun worker ne tourne : aucune vague n’avance/, 'the French banner');
      expect((await api.call('GET', '/workers', { key: 'viewer' })).body.alive).toBe(0);
    } finally {
      await api.h.startWorker();
    }
    await pollUntil(async () => (await banner(page).isHidden()) || undefined, {
      timeoutMs: 15_000,
      intervalMs: 100,
      description: 'the banner gone once a worker runs',
    });
    expect(problems).toEqual([]);
  }, 60_000);
});
