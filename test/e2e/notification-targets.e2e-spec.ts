import { NotificationReceiver, pollUntil } from '@app/testing';
import { ApiHarness, startApiHarness } from './api-harness';

/** Rows in a table, as its owner reads them (a refusal writes nothing). */
const rowsIn = async (api: ApiHarness, table: string) =>
  Number((await api.h.db.owner.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n);

interface Counts {
  pending: number;
  delivered: number;
  failed: number;
  lastFailure: { at: string; error: string | null } | null;
}

/*
 * Security probe (SSRF): a subscription's URL is where the worker POSTs from inside the deployment. A URL on the
 * link-local range reaches the cloud's instance metadata service, and the delivery's status and error told ops what
 * answered there. Such targets (link-local, unspecified, multicast, the metadata names, in any spelling of the address)
 * are refused when the subscription is made, naming `url`, writing nothing; a subscription stored before the rule is
 * never posted to (given up with the reason). A loopback receiver (the demo's inbox, these tests') stays allowed.
 */
describe('notification targets: no metadata or link-local address', () => {
  let api: ApiHarness;
  let receiver: NotificationReceiver;
  const count = (table: string) => rowsIn(api, table);

  beforeAll(async () => {
    receiver = await NotificationReceiver.start();
    api = await startApiHarness('probetarget', {
      accounts: 20,
      worker: true,
      engineEnv: { NOTIFY_POLL_MS: '100', NOTIFY_BACKOFF_BASE_MS: '100' },
    });
    await api.h.importPopulation({ count: 20, seed: 12, leakedShare: 0 });
  }, 180_000);
  afterAll(async () => {
    await api?.close();
    await receiver?.close();
  });

  it.each([
    'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    'http://0xa9fea9fe/', // 169.254.169.254 in hex
    'http://[::ffff:169.254.169.254]/',
    'http://[fd00:ec2::254]/latest/meta-data/',
    'http://[fe80::1]/',
    'http://metadata.google.internal/computeMetadata/v1/',
    'http://0.0.0.0:6379/',
    'http://[::]:5432/',
    'http://224.0.0.1/',
  ])('POST /subscriptions to %s: 400 naming url, nothing written', async (url) => {
    const [subs, audit] = [await count('notification_subscriptions'), await count('audit_log')];
    const res = await api.call('POST', '/subscriptions', { body: { name: 'probe', url } });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.body.field).toBe('url');
    expect(await count('notification_subscriptions')).toBe(subs);
    expect(await count('audit_log')).toBe(audit);
  });

  it('a receiver on the loopback or a private address is still accepted', async () => {
    expect((await api.call('POST', '/subscriptions', { body: { name: 'lo', url: `${receiver.url}/ok` } })).status).toBe(
      201,
    );
    const lan = await api.call('POST', '/subscriptions', { body: { name: 'lan', url: 'http://10.0.0.7/hooks/x' } });
    expect(lan.status).toBe(201);
    // Nothing listens there: out of the delivery test below.
    expect((await api.call('DELETE', `/subscriptions/${lan.body.id}`)).status).toBeLessThan(300);
  });

  it('a metadata subscription stored before the rule is never posted to: given up with the reason', async () => {
    const [{ id: stored }] = await api.h.db.owner.query(
      `INSERT INTO notification_subscriptions (name, url, format, secret, created_by)
       VALUES ('old', 'http://169.254.169.254/latest/meta-data/', 'json', 'whsec_x', 'ops:old') RETURNING id`,
    );
    const created = await api.call('POST', '/waves', {
      body: { name: 'targets', selector: { type: 'remaining' }, protocols: ['imap'], ratePerSecond: 1 },
    });
    expect((await api.call('POST', `/waves/${created.body.id}/cancel`)).status).toBe(200);

    const counts = async () =>
      (await api.call<{ deliveries: Counts }>('GET', `/subscriptions/${stored}`)).body.deliveries;
    const given = await pollUntil(async () => ((await counts()).failed === 1 ? counts() : undefined), {
      timeoutMs: 30_000,
      description: 'the metadata delivery given up',
    });
    expect(given.pending).toBe(0);
    expect(given.lastFailure?.error).toMatch(/^refused target: /);
    const [row] = await api.h.db.owner.query(
      `SELECT state, last_status FROM notification_deliveries WHERE subscription_id = $1`,
      [stored],
    );
    expect(row).toEqual({ state: 'failed', last_status: null });
    // The loopback receiver got the same event.
    await pollUntil(async () => receiver.acknowledged('/ok').length >= 1, { description: 'the loopback delivery' });
  });
});

/*
 * A deployment that names its receivers (NOTIFY_ALLOWED_HOSTS): no other host is posted to, internal services
 * included: refused at creation by the API, given up by the worker for a subscription made before the list.
 */
describe('notification targets: NOTIFY_ALLOWED_HOSTS names the receivers', () => {
  let api: ApiHarness;
  let receiver: NotificationReceiver;
  const count = (table: string) => rowsIn(api, table);

  beforeAll(async () => {
    receiver = await NotificationReceiver.start();
    expect(new URL(receiver.url).hostname).toBe('127.0.0.1');
    api = await startApiHarness('allowhosts', {
      accounts: 20,
      worker: true,
      engineEnv: {
        NOTIFY_POLL_MS: '100',
        NOTIFY_BACKOFF_BASE_MS: '100',
        NOTIFY_ALLOWED_HOSTS: '127.0.0.1,*.chat.example',
      },
    });
    await api.h.importPopulation({ count: 20, seed: 12, leakedShare: 0 });
  }, 180_000);
  afterAll(async () => {
    await api?.close();
    await receiver?.close();
  });

  it.each([
    ['http://10.0.0.7/hooks/x', '10.0.0.7'],
    ['http://localhost:6379/', 'localhost'],
    ['https://chat.example/hooks', 'chat.example'],
  ])('POST /subscriptions to %s: 400 naming url, nothing written', async (url, host) => {
    const [subs, audit] = [await count('notification_subscriptions'), await count('audit_log')];
    const res = await api.call('POST', '/subscriptions', { body: { name: 'elsewhere', url } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      field: 'url',
      errors: [
        {
          field: 'url',
          message: `url must lead to a receiver: ${host} is not among the receivers NOTIFY_ALLOWED_HOSTS names`,
        },
      ],
    });
    expect(await count('notification_subscriptions')).toBe(subs);
    expect(await count('audit_log')).toBe(audit);
  });

  it('a listed receiver is posted to; one stored before the list, on a host it leaves out, is given up', async () => {
    const listed = await api.call('POST', '/subscriptions', { body: { name: 'listed', url: `${receiver.url}/ok` } });
    expect(listed.status).toBe(201);
    const mm = await api.call('POST', '/subscriptions', { body: { name: 'mm', url: 'https://mm.chat.example/h/1' } });
    expect(mm.status).toBe(201);
    // Nothing listens there: out of the delivery below.
    expect((await api.call('DELETE', `/subscriptions/${mm.body.id}`)).status).toBeLessThan(300);
    // The same receiver under a name the list does not give: stored as before the list was set.
    const unlisted = receiver.url.replace('127.0.0.1', 'localhost');
    const [{ id: stored }] = await api.h.db.owner.query(
      `INSERT INTO notification_subscriptions (name, url, format, secret, created_by)
       VALUES ('old', $1, 'json', 'whsec_x', 'ops:old') RETURNING id`,
      [`${unlisted}/old`],
    );
    const created = await api.call('POST', '/waves', {
      body: { name: 'allowed', selector: { type: 'remaining' }, protocols: ['imap'], ratePerSecond: 1 },
    });
    expect((await api.call('POST', `/waves/${created.body.id}/cancel`)).status).toBe(200);

    const counts = async () =>
      (await api.call<{ deliveries: Counts }>('GET', `/subscriptions/${stored}`)).body.deliveries;
    const given = await pollUntil(async () => ((await counts()).failed === 1 ? counts() : undefined), {
      timeoutMs: 30_000,
      description: 'the unlisted delivery given up',
    });
    expect(given.lastFailure?.error).toBe(
      'refused target: localhost is not among the receivers NOTIFY_ALLOWED_HOSTS names',
    );
    await pollUntil(async () => receiver.acknowledged('/ok').length >= 1, { description: 'the listed delivery' });
    expect(receiver.acknowledged('/old')).toEqual([]);
  });
});
