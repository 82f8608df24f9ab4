import { JsonNotification, verifySignature } from '@app/domain';
import { NotificationReceiver, pollUntil } from '@app/testing';
import { ApiHarness, startApiHarness } from './api-harness';

interface DeliveryPage {
  items: { kind: string; state: string; attempts: number; lastStatus: number | null; lastError: string | null }[];
}

/**
 * Notifications through the HTTP API only (issue 20): ops subscribe a local receiver (JSON and Slack), a signal gate
 * halts a running wave, the receiver gets the halt with the gate, its value and threshold, signed; ops read the
 * deliveries and the pending gauge; bad input is a 400 naming the field; delete ends the subscription.
 */
describe('notifications over the API (real PostgreSQL, Redis, worker, receiver)', () => {
  let api: ApiHarness;
  let receiver: NotificationReceiver;

  beforeAll(async () => {
    receiver = await NotificationReceiver.start();
    api = await startApiHarness('notify', {
      accounts: 3000,
      worker: true,
      engineEnv: { GATE_INTERVAL_MS: '100', NOTIFY_POLL_MS: '100', PUBLIC_URL: 'https://reopen.example/' },
    });
    await api.h.importPopulation({ count: 3000, seed: 11, leakedShare: 0 });
  });
  afterAll(async () => {
    await api?.close();
    await receiver?.close();
  });

  it('refuses a bad subscription with a problem naming each field, and writes nothing', async () => {
    const res = await api.call('POST', '/subscriptions', {
      body: { name: 'x', url: 'not a url', format: 'irc', kinds: ['wave.exploded'] },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    const fields = (res.body as { errors: { field: string }[] }).errors.map((e) => e.field).sort();
    expect(fields).toEqual(['format', 'kinds', 'url']);
    expect((await api.call('GET', '/subscriptions')).body).toEqual({ items: [] });
    expect((await api.call('GET', '/subscriptions', { key: 'viewer' })).status).toBe(403);
  });

  it('posts a gate halt to the subscribed receiver, signed, and shows the deliveries and the pending gauge', async () => {
    const json = await api.call('POST', '/subscriptions', {
      body: { name: 'incident room', url: `${receiver.url}/json` },
    });
    expect(json.status).toBe(201);
    expect(json.body.secret).toMatch(/^whsec_/);
    const slack = await api.call('POST', '/subscriptions', {
      body: { name: 'slack', url: `${receiver.url}/slack`, format: 'slack', kinds: ['wave.halted'] },
    });
    expect(slack.status).toBe(201);
    const listed = await api.call<{ items: { name: string }[] }>('GET', '/subscriptions');
    expect(listed.body.items.map((s) => s.name)).toEqual(['incident room', 'slack']);
    expect(JSON.stringify(listed.body)).not.toContain(json.body.secret);

    const signal = (value: number) =>
      api.call('POST', '/signals', {
        key: 'signals',
        body: { name: 'failed_logins', value, windowSeconds: 60, observedAt: new Date().toISOString() },
      });
    expect((await signal(5)).status).toBe(201);
    const created = await api.call('POST', '/waves', {
      body: {
        name: 'everyone else',
        selector: { type: 'remaining' },
        protocols: ['imap'],
        ratePerSecond: 50,
        gates: [
          {
            name: 'failed-logins',
            metric: 'signal',
            signal: 'failed_logins',
            windowSeconds: 60,
            minSamples: 0,
            threshold: 100,
            action: 'halt',
          },
        ],
      },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await api.call('POST', `/waves/${id}/start`)).status).toBe(200);
    expect((await signal(412)).status).toBe(201);

    const halt = await pollUntil(
      () =>
        receiver
          .acknowledged('/json')
          .map((r) => ({ r, b: JSON.parse(r.body) as JsonNotification }))
          .find((x) => x.b.kind === 'wave.halted'),
      { timeoutMs: 30_000, description: 'the halt posted' },
    );
    expect(halt.b).toMatchObject({
      wave: { id, name: 'everyone else' },
      actor: 'engine',
      gate: { gate: 'failed-logins', value: 412, threshold: 100 },
      statusPage: `https://reopen.example/#wave-${id}`,
    });
    expect(verifySignature(json.body.secret as string, halt.r, halt.r.body, Math.floor(Date.now() / 1000))).toBe(true);
    const kinds = receiver.acknowledged('/json').map((r) => (JSON.parse(r.body) as JsonNotification).kind);
    expect(kinds).toEqual(['wave.started', 'wave.halted']);
    const slackPost = await pollUntil(() => receiver.acknowledged('/slack')[0], { description: 'the slack post' });
    expect(JSON.parse(slackPost.body)).toEqual({
      text: `*Wave "everyone else" HALTED*: gate failed-logins: value 412, threshold 100 <https://reopen.example/#wave-${id}|status page>`,
    });
    expect(slackPost.eventId).toBe(halt.b.id);

    const deliveries = await pollUntil(
      async () => {
        const page = await api.call<DeliveryPage>('GET', `/subscriptions/${json.body.id}/deliveries`);
        return page.body.items.every((d) => d.state === 'delivered') ? page : undefined;
      },
      { description: 'deliveries acknowledged' },
    );
    expect(deliveries.body.items.map((d) => [d.kind, d.attempts])).toEqual([
      ['wave.halted', 1],
      ['wave.started', 1],
    ]);

    // The receiver goes down: the next event waits, visible as pending with its failure.
    await receiver.down();
    expect((await api.call('POST', `/waves/${id}/rollback`)).status).toBe(200);
    const failing = await pollUntil(
      async () => {
        const s = await api.call('GET', `/subscriptions/${json.body.id}`);
        return s.body.deliveries.failing > 0 ? s : undefined;
      },
      { timeoutMs: 30_000, description: 'a failed attempt recorded' },
    );
    expect(failing.body.deliveries.pending).toBeGreaterThanOrEqual(1);
    const metrics = await api.call('GET', '/metrics', { key: 'viewer' });
    expect(metrics.text).toMatch(
      new RegExp(
        `^reopen_notifications_pending\\{subscription_id="${json.body.id}",subscription="incident room"\\} [1-9]`,
        'm',
      ),
    );
    // The signal (in its sender's unit) as a multiple of its gate's threshold: one dimensionless family for every
    // signal gate, whatever their units (412 / 100).
    expect(metrics.text).toMatch(
      new RegExp(
        `^reopen_wave_gate_signal_threshold_ratio\\{wave_id="${id}",wave="everyone else",gate="failed-logins"\\} 4\\.12$`,
        'm',
      ),
    );
    expect(metrics.text).not.toMatch(/^reopen_wave_gate_(signal|query)_value/m);
    const pending = await api.call<DeliveryPage>('GET', `/subscriptions/${json.body.id}/deliveries?state=pending`);
    const head = pending.body.items[pending.body.items.length - 1];
    expect(head).toMatchObject({ kind: 'wave.rollback_started', lastStatus: null });
    expect(head.lastError).toMatch(/ECONNREFUSED/);

    await receiver.up();
    await pollUntil(
      () =>
        receiver
          .acknowledged('/json')
          .some((r) => (JSON.parse(r.body) as JsonNotification).kind === 'wave.rollback_finished'),
      { timeoutMs: 60_000, description: 'the rollback notified once the receiver is back' },
    );
    expect(receiver.acknowledged('/json').map((r) => (JSON.parse(r.body) as JsonNotification).kind)).toEqual([
      'wave.started',
      'wave.halted',
      'wave.rollback_started',
      'wave.rollback_finished',
    ]);

    expect((await api.call('DELETE', `/subscriptions/${slack.body.id}`)).status).toBe(204);
    expect((await api.call('GET', `/subscriptions/${slack.body.id}`)).status).toBe(404);
    expect((await api.call('DELETE', `/subscriptions/${slack.body.id}`)).status).toBe(404);
    expect((await api.call('GET', '/subscriptions/not-a-uuid')).status).toBe(400);
  });
});
