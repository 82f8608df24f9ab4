import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiTags } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import { LoginEventResult, LoginIngestService } from '@app/core';
import { Access, KeyInQuery, ROLES } from '../auth/access.decorator';
import { invalidParameter } from '../common/api-exceptions';
import { ApiProblem } from '../common/problem.dto';
import { SignalStreamMetrics } from '../metrics/signal-metrics';
import { LoginEventsAcceptedDto } from './login-event.dto';

/** At most this many events in one POST (Dovecot sends one; a relay may batch). */
const MAX_EVENTS = 1000;

/**
 * The mail server's login events (issue 19): Dovecot's `event_exporter` (`transport = http-post`, `format = json`)
 * posts each `auth_request_finished` event here, with a `signals` key in the URL (`?key=…`; it cannot set a header).
 * Each event is counted in memory and flushed as counts (LoginIngestService): no query per event. An event the service
 * cannot use is counted by reason and dropped, with a 202 like the others: answering an error would make the sender
 * try it again. Only a body that is not an event at all (not a JSON object or array) is a 400.
 *
 * Not rate limited per key like the other routes (a mail server sends thousands a second): the work per event is a
 * map update, and the memory it may take is bounded by the ingest's buffer.
 */
@ApiTags('signals')
@Controller('login-events')
export class LoginEventController {
  constructor(
    private readonly logins: LoginIngestService,
    private readonly metrics: SignalStreamMetrics,
  ) {}

  @Post()
  @HttpCode(202)
  @SkipThrottle()
  @Access(...ROLES.signals)
  @KeyInQuery()
  @ApiBody({
    description: 'one Dovecot event (`auth_request_finished`, JSON format) or an array of at most 1000',
    schema: { oneOf: [{ type: 'object' }, { type: 'array', items: { type: 'object' }, maxItems: MAX_EVENTS }] },
  })
  @ApiAcceptedResponse({ type: LoginEventsAcceptedDto })
  @ApiProblem(400, 'the body is not a JSON object or an array of at most 1000 of them')
  accept(@Body() body: unknown): LoginEventsAcceptedDto {
    return ingestLoginEvents(this.logins, this.metrics, body);
  }
}

/**
 * The route's work, shared with its raw path (login-event.raw-route.ts, which answers the plain POSTs of a key in use
 * on node's request event; this controller declares the contract and answers the rest).
 */
export function ingestLoginEvents(
  logins: LoginIngestService,
  metrics: Pick<SignalStreamMetrics, 'loginEventsReceived'>,
  body: unknown,
): LoginEventsAcceptedDto {
  const events = Array.isArray(body) ? body : [body];
  if ((!Array.isArray(body) && (typeof body !== 'object' || body === null)) || events.length > MAX_EVENTS) {
    throw invalidParameter('body', `must be a JSON object or an array of at most ${MAX_EVENTS} objects`);
  }
  const results = logins.accept(events);
  metrics.loginEventsReceived(results);
  const dropped: Partial<Record<LoginEventResult, number>> = {};
  let accepted = 0;
  for (const r of results) {
    if (r === 'accepted') accepted++;
    else dropped[r] = (dropped[r] ?? 0) + 1;
  }
  return { accepted, dropped };
}
