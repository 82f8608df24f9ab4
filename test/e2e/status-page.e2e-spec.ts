import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, chromium, Locator, Page } from 'playwright-core';
import type { WaveProgress } from '@app/core';
import { pollUntil, requireChromium } from '@app/testing';
import { ApiHarness, startApiHarness } from './api-harness';

/** Slow enough to watch: about 30 s of sending at 100 accounts per second. */
const ACCOUNTS = 3000;
const SCREENSHOT = join(__dirname, '../../docs/status-page.png');

describe('the status page at / in a real browser (Chromium, the built API, worker, simulator)', () => {
  let api: ApiHarness;
  let browser: Browser | undefined;
  let page: Page;
  /** What the page's console and runtime reported: a CSP violation or a script error shows up here. */
  const problems: string[] = [];

  beforeAll(async () => {
    const executablePath = requireChromium(); // before the minute of setup it would waste
    api = await startApiHarness('page', { accounts: ACCOUNTS, worker: true });
    await api.h.importPopulation({ count: ACCOUNTS, seed: 11 });
    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      // Refused keys are 401s the browser logs as failed loads: expected here. Anything else is a problem.
      if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) problems.push(msg.text());
    });
  });
  afterAll(async () => {
    try {
      await browser?.close();
    } finally {
      await api?.close();
    }
  });

  const text = async (locator: Locator) => ((await locator.textContent()) ?? '').trim();
  const waitForText = (locator: Locator, pattern: RegExp, description: string) =>
    pollUntil(async () => pattern.test(await text(locator)) || undefined, {
      timeoutMs: 15_000,
      intervalMs: 100,
      description,
    });
  const useKey = async (secret: string) => {
    await page.getByLabel('API key').fill(secret);
    await page.getByRole('button', { name: 'Use key' }).click();
  };

  it('is served without a key, under a self-only Content-Security-Policy', async () => {
    const res = await fetch(`${api.api.origin}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'self';/);
    expect(await res.text()).toContain('<script src="app.js" defer></script>');
    const script = await fetch(`${api.api.origin}/app.js`);
    expect([script.status, script.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);
    // The page is public; its data is not.
    expect((await fetch(`${api.api.origin}/api/v1/progress`)).status).toBe(401);
  });

  it('says clearly when a key is refused', async () => {
    await page.goto(`${api.api.origin}/`);
    await useKey('not-a-real-key');
    await waitForText(page.locator('#alert'), /^Key refused: the API key is unknown or revoked/, 'refused-key message');
    expect(await page.locator('#alert').isVisible()).toBe(true);
    expect(await page.locator('article.wave').count()).toBe(0);
  });

  it('shows a running wave advancing to a viewer, and lets ops pause it after a confirmation', async () => {
    const created = await api.call('POST', '/waves', {
      body: {
        name: 'health first, watched',
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
            threshold: 0.5,
            action: 'pause',
          },
        ],
      },
    });
    expect(created.status).toBe(201);
    const id: string = created.body.id;
    expect((await api.call('POST', `/waves/${id}/start`)).status).toBe(200);

    await page.goto(`${api.api.origin}/`);
    await useKey(api.secrets.viewer);
    const card = page.locator(`article[data-wave-id="${id}"]`);
    await card.waitFor({ state: 'visible', timeout: 15_000 });
    expect(await text(card.locator('h3'))).toBe('health first, watched');

    // Progress advances on screen: two different done counts, read from the page between polls.
    const seen = new Set<string>();
    await pollUntil(
      async () => {
        seen.add(await text(card.locator('[data-field="done"]')));
        return seen.size >= 2 || undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250, description: 'two different done counts on the page' },
    );
    expect([...seen].every((s) => new RegExp(`^[\\d,]+ of ${ACCOUNTS.toLocaleString('en')}$`).test(s))).toBe(true);
    expect(await card.getByRole('progressbar').getAttribute('value')).not.toBeNull();
    await waitForText(page.locator('#status'), /viewer key: read only/, 'viewer role noticed');
    expect(await text(page.locator('#audit-note'))).toMatch(/ops keys only/);
    expect(await card.locator('button[data-action]:visible').count()).toBe(0);

    await useKey(api.secrets.ops);
    const pause = card.getByRole('button', { name: 'Pause' });
    await pause.waitFor({ state: 'visible', timeout: 15_000 });
    let question = '';
    page.once('dialog', (dialog) => {
      question = dialog.message();
      void dialog.accept();
    });
    await pause.click();
    expect(question).toMatch(/^Pause wave "health first, watched"\?/);

    // The wave is paused in the service, and the page says so.
    const paused = await pollUntil(
      async () => {
        const p = (await api.call<WaveProgress>('GET', `/waves/${id}/progress`, { key: 'viewer' })).body;
        return p.state === 'paused' ? p : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100, description: 'wave paused' },
    );
    expect(paused.statusReason).toBe('ops');
    expect(paused.done).toBeLessThan(ACCOUNTS);
    await waitForText(card.locator('[data-field="state"]'), /^paused$/, 'paused state on the page');
    await waitForText(card.locator('[data-field="statusText"]'), /^paused by ops/, 'pause reason on the page');
    await card.getByRole('button', { name: 'Resume' }).waitFor({ state: 'visible' });
    expect(await pause.isVisible()).toBe(false);
    await waitForText(page.locator('#audit'), /wave\.pause/, 'the pause in the audit list');
    // Paused at every look over the next two polls: the overview (shared, cached) can be older than the view the
    // page read right after the command, and must not put the old state back on screen.
    const states = new Set<string | null>();
    const polls = new Set<string>([await text(page.locator('#updated'))]);
    await pollUntil(
      async () => {
        states.add(await card.getAttribute('data-state'));
        polls.add(await text(page.locator('#updated')));
        return polls.size > 2 || undefined;
      },
      { timeoutMs: 10_000, intervalMs: 50, description: 'two more polls' },
    );
    expect([...states]).toEqual(['paused']);

    // The chart of accounts per minute, from successive polls: bars, and no spike far above the set rate
    // (100/s is 6,000 a minute; a poll two seconds behind the previous one can at most double a reading).
    expect(await card.locator('[data-field="chart"] rect').count()).toBeGreaterThan(0);
    const caption = await text(card.locator('[data-field="chartCaption"]'));
    const peak = Number(/peak ([\d,]+(?:\.\d+)?)/.exec(caption)?.[1].replaceAll(',', ''));
    expect({ caption, plausible: peak > 0 && peak < 30_000 }).toEqual({ caption, plausible: true });

    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    expect(problems).toEqual([]);
  }, 120_000);
});
