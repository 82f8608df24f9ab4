import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import {
  aWave,
  cleanRecord,
  createEngineHarness,
  EngineHarness,
  loginAllocator,
  recordVsMailstore,
} from '@app/testing';

/**
 * A forward batch in doubt (its first call applied, the answer lost) whose resend the mailstore refuses outright with
 * a 4xx: here a gateway in front of the simulator that now takes fewer items per batch (413 batch_too_large, the
 * contract's answer before anything is applied or replayed). The refusal says nothing about the first attempt, which
 * opened the accounts: the members must not be recorded as failed while the mailstore has them open.
 */
describe('a batch in doubt refused on its resend (real PostgreSQL, Redis, simulator behind a gateway, worker)', () => {
  let h: EngineHarness;
  let gateway: Server;
  let target = '';
  /** Batch calls through the gateway so far, and which one it refuses with 413 (the resend). */
  let batchCalls = 0;
  let refuseCall = 0;
  const logins = loginAllocator();

  const relay = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const batch = req.method === 'POST' && req.url?.endsWith('/access/batch');
    if (batch && ++batchCalls === refuseCall) {
      res.writeHead(413, { 'content-type': 'application/problem+json' });
      return void res.end(JSON.stringify({ type: 'about:blank', status: 413, code: 'batch_too_large', maxItems: 2 }));
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k)),
    ) as Record<string, string>;
    try {
      const answer = await fetch(`${target}${req.url}`, {
        method: req.method,
        headers,
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
      const out: Record<string, string> = {};
      answer.headers.forEach((v, k) => {
        if (!['content-length', 'transfer-encoding', 'connection', 'content-encoding'].includes(k)) out[k] = v;
      });
      res.writeHead(answer.status, out);
      res.end(Buffer.from(await answer.arrayBuffer()));
    } catch {
      res.destroy(); // the simulator dropped the answer: so does the gateway
    }
  };

  beforeAll(async () => {
    gateway = createServer((req, res) => void relay(req, res));
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    const port = (gateway.address() as { port: number }).port;
    h = await createEngineHarness(
      'refuseddoubt',
      { accounts: 50 },
      { MAILSTORE_URL: `http://127.0.0.1:${port}/v1`, BATCH_RETRY_BASE_MS: '500', BATCH_RETRY_MAX_MS: '500' },
    );
    target = h.sim.baseUrl.replace(/\/v1$/, '');
    await h.importPopulation({ count: 50, seed: 61, leakedShare: 0 });
    await h.startWorker();
  });
  afterAll(async () => {
    await h?.close();
    await new Promise((resolve) => gateway.close(resolve));
  });

  it('keeps the record in agreement with the mailstore', async () => {
    const members = logins(5);
    h.sim.setFaults({ script: ['drop_after_apply'], endpoints: ['batch'] });
    refuseCall = batchCalls + 2; // the resend
    const wave = await aWave('refuseddoubt')
      .logins(members)
      .protocols('imap', 'pop3')
      .rate(1000)
      .batchSize(5)
      .started(h);
    await h.untilWaveState(wave.id, ['completed', 'paused'], { timeoutMs: 20_000 });
    expect((await h.waveStatus(wave.id)).state).toBe('completed');
    // The premise: the first call opened all five, the resend was refused by the gateway.
    expect(h.batchCalls(wave.id).map((c) => [c.outcome, c.applied.length])).toEqual([['dropped_after_apply', 5]]);
    expect(batchCalls).toBeGreaterThanOrEqual(refuseCall);
    expect(members.every((m) => h.sim.account(m)!.protocols.imap && h.sim.account(m)!.protocols.pop3)).toBe(true);
    expect(await recordVsMailstore(h, wave.id, members)).toEqual(cleanRecord(wave.id));
    // Read back, they are the wave's: it completes, and its rollback closes them.
    expect(await h.counters(wave.id)).toMatchObject({ enabled: 5 });
    await h.commands.rollback(wave.id, 'ops:test');
    await h.untilWaveState(wave.id, 'rolled_back');
    expect(await recordVsMailstore(h, wave.id, members, { rolledBack: true })).toEqual(cleanRecord(wave.id));
  });
});
