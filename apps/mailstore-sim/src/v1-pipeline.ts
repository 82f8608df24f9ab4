import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { CallRecord } from './call-log';
import type { V1Handler } from './handlers/v1-handler';
import { ClientGoneError, header, readBody, renderBody, send, untilClosed } from './http-io';
import type { KeyClaim, StoredResponse } from './idempotency-store';
import { Problem, PROBLEM_CONTENT_TYPE } from './problem';
import { accountFromPath, idempotencyKeyProblem, parseJsonObject } from './request-validation';
import type { SimState } from './sim-state';
import {
  authenticate,
  authorize,
  batchKeyRequired,
  bodyTooLarge,
  injectedProblem,
  inProgress,
  keyReused,
  rateLimited,
} from './v1-guards';
import { routeV1 } from './v1-router';

/**
 * One /v1 request, in the order a real gateway meets it:
 *   unreachable? -> authentication (401) -> route (404/405) -> scope (403) -> request budget (429)
 *   -> Idempotency-Key syntax, account, body (400/413) -> injected fault drawn (script, then rates);
 *      429/503/500 answered here -> idempotency (422 / 409 / replay) -> [hang: holds the key, never answers]
 *   -> update budget (429) -> claim key -> latency -> execute (applies) -> store under key
 *   -> answer [or drop the connection after applying].
 * Invariants: nothing is applied before `execute`, so every 4xx, 429, 503, injected 500 and hang applied
 * nothing; only executed answers are stored (a claim not completed is released in `finally`).
 */
export class V1Exchange {
  private readonly call: CallRecord;
  private readonly baseHeaders: Record<string, string>;
  private rateHeaders: Record<string, string> = {};
  private claim: KeyClaim | undefined;

  constructor(
    private readonly state: SimState,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly pathname: string,
    /** Aborted when the simulator closes: pending latencies and hangs end at once. */
    private readonly closing: AbortSignal,
  ) {
    const requestId = header(req, 'x-request-id') ?? null;
    this.baseHeaders = requestId === null ? {} : { 'x-request-id': requestId };
    this.call = state.callLog.begin(req.method ?? '', 'other', req.url ?? pathname, null, requestId);
  }

  async run(): Promise<void> {
    try {
      await this.process();
    } catch (err) {
      if (err instanceof ClientGoneError || this.closing.aborted) {
        this.finish(0, this.closing.aborted ? 'server_closed' : 'client_closed');
        return;
      }
      // A simulator bug: answer 500 like a gateway would, and say so loudly (never swallowed).
      process.stderr.write(`mailstore-sim: internal error on ${this.req.method} ${this.req.url}: ${String(err)}\n`);
      if (!this.res.headersSent && !this.res.destroyed) this.fail(new Problem(500, 'internal', 'simulator error'));
      else this.finish(0, 'internal');
    } finally {
      this.claim?.release();
    }
  }

  private async process(): Promise<void> {
    const { state, req } = this;
    if (state.faults.unreachable) {
      req.socket.destroy();
      state.counters.fault('unreachable');
      return this.finish(0, 'unreachable');
    }
    // Routed first only to name the endpoint in the log; an unknown route is reported after authentication.
    const route = routeV1(req.method ?? '', this.pathname);
    if (!(route instanceof Problem)) this.call.endpoint = route.handler.endpoint;
    const credential = authenticate(state.settings.tokens, header(req, 'authorization'));
    if (credential instanceof Problem) return this.fail(credential);
    if (route instanceof Problem) return this.fail(route);
    const { handler } = route;
    const forbidden = authorize(credential, handler.scope);
    if (forbidden) return this.fail(forbidden);
    const { token } = credential;
    const overRequests = state.limiter.takeRequest(token);
    this.rateHeaders = state.limiter.headers(token);
    if (overRequests) return this.rateLimited(rateLimited(overRequests));

    const key = handler.acceptsIdempotencyKey ? header(req, 'idempotency-key') : undefined;
    this.call.idempotencyKey = key ?? null;
    if (key !== undefined) {
      const keyProblem = idempotencyKeyProblem(key);
      if (keyProblem) return this.fail(keyProblem);
    } else if (handler.endpoint === 'batch' && state.settings.requireIdempotencyKeyForBatch) {
      return this.fail(batchKeyRequired());
    }
    const account = route.accountSegment === undefined ? undefined : accountFromPath(route.accountSegment);
    if (account instanceof Problem) return this.fail(account);
    const body = handler.readsBody ? await this.readJson(handler) : undefined;
    if (body instanceof Problem) return this.fail(body);

    const op = handler.prepare({
      state,
      store: state.store,
      account,
      headers: req.headers,
      body,
      needsFingerprint: key !== undefined,
    });
    if (op instanceof Problem) return this.fail(op);
    this.call.accounts = op.accounts;

    const fault = state.faults.pick(handler.endpoint);
    const latency = fault === 'hang' ? 0 : state.faults.latencyMs(handler.endpoint);
    if (fault === '429' || fault === '503' || fault === '500') {
      if (latency > 0) await delay(latency, undefined, { signal: this.closing });
      state.counters.fault(fault);
      const problem = injectedProblem(fault, state.faults.retryAfterSeconds);
      return fault === '429' ? this.rateLimited(problem) : this.fail(problem);
    }
    let replay: StoredResponse | undefined;
    if (key !== undefined) {
      const found = state.idempotency.lookup(token, key, op.fingerprint);
      if (found.kind === 'mismatch') return this.fail(keyReused());
      if (found.kind === 'in_progress') return this.fail(inProgress());
      if (found.kind === 'replay') replay = found.response;
    }
    if (fault === 'hang') {
      // A hanging request holds its key: a retry meanwhile gets 409, as with any request still running.
      if (key !== undefined && replay === undefined) this.claim = state.idempotency.claim(token, key, op.fingerprint);
      return this.hang();
    }
    if (replay !== undefined) {
      state.counters.replayed++;
      if (fault === 'drop_after_apply') return this.drop();
      const body = renderBody(replay);
      return this.reply(
        replay.status,
        replay.contentType,
        body,
        { ...replay.headers, 'idempotent-replayed': 'true' },
        'replayed',
      );
    }
    const overUpdates = op.updateCost > 0 ? state.limiter.takeUpdates(token, op.updateCost) : undefined;
    if (overUpdates) {
      this.rateHeaders = state.limiter.headers(token);
      return this.rateLimited(rateLimited(overUpdates));
    }
    if (key !== undefined) this.claim = state.idempotency.claim(token, key, op.fingerprint);
    if (latency > 0) await delay(latency, undefined, { signal: this.closing });

    const done = op.execute();
    state.counters.executed(op.updateCost, done.tally);
    this.call.applied = done.applied;
    this.claim?.complete(done.response);
    if (fault === 'drop_after_apply') return this.drop();
    const r = done.response;
    this.reply(r.status, r.contentType, renderBody(r), r.headers, done.outcome);
  }

  private async readJson(handler: V1Handler): Promise<Record<string, unknown> | Problem> {
    const raw = await readBody(this.req);
    if (raw === 'too_large') return bodyTooLarge(handler.endpoint === 'batch', this.state.settings.maxBatchItems);
    return parseJsonObject(raw, header(this.req, 'content-type'));
  }

  /** Real and injected 429s alike: counted, never stored. */
  private rateLimited(problem: Problem): void {
    this.state.counters.rateLimited++;
    this.fail(problem);
  }

  /** Never answers: the socket is destroyed after hangMs, or earlier when the client gives up. */
  private async hang(): Promise<void> {
    this.state.counters.fault('hang');
    await untilClosed(this.res, this.state.faults.hangMs, this.closing);
    this.req.socket.destroy();
    this.finish(0, 'hang');
  }

  /** "Applied but the response was lost": the change stands (and is stored), the client hears nothing. */
  private drop(): void {
    this.state.counters.fault('drop_after_apply');
    this.req.socket.destroy();
    this.finish(0, 'dropped_after_apply');
  }

  private fail(problem: Problem): void {
    this.reply(problem.status, PROBLEM_CONTENT_TYPE, problem.toJson(), problem.headers, problem.code);
  }

  private reply(
    status: number,
    contentType: string,
    body: string,
    headers: Record<string, string>,
    outcome: string,
  ): void {
    if (this.res.destroyed) return this.finish(0, 'client_closed');
    send(this.res, status, contentType, body, { ...this.baseHeaders, ...this.rateHeaders, ...headers });
    this.finish(status, outcome);
  }

  private finish(status: number, outcome: string): void {
    if (this.call.endedAt !== null) return;
    this.call.finish(status, outcome);
    this.state.counters.request(this.call.endpoint, status);
  }
}
