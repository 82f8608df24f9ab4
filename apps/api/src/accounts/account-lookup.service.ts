import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { EnvironmentDto } from '@app/config';
import { AuditQueryService, NotFoundError } from '@app/core';
import { AccountEntity, OperationEntity } from '@app/db';
import { answeredNotFound, decideEligibility, eligibilityAccount, PROTOCOLS } from '@app/domain';
import { OperationDto } from '../operations/operation.dto';
import { AccountDto, AccountWaveDto } from './account.dto';

/**
 * One account for support, in four indexed reads (login, its wave memberships, its operations, its audit
 * history). Eligibility is the domain's decision for a wave opening both protocols, as a batch would see it now.
 * (A read model; it could live in libs/core/accounts next to the import.)
 */
@Injectable()
export class AccountLookupService {
  private readonly incidentAt: Date;

  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditQueryService,
    config: EnvironmentDto,
  ) {
    this.incidentAt = new Date(config.INCIDENT_AT);
  }

  async get(login: string): Promise<AccountDto> {
    const account = await this.dataSource.getRepository(AccountEntity).findOne({ where: { login } });
    if (!account) throw new NotFoundError('account', login);
    const [waves, operations, history] = await Promise.all([
      this.dataSource.query<AccountWaveDto[]>(
        `SELECT m.wave_id AS "waveId", w.name, w.state AS "waveState", m.state AS "memberState", m.reason,
                COALESCE(m.rollback_state, CASE WHEN m.state = 'enabled' AND w.rollback_started_at IS NOT NULL
                  THEN 'pending' END) AS "rollbackState", m.done_at AS "doneAt"
           FROM wave_members m JOIN waves w ON w.id = m.wave_id
          WHERE m.account_id = $1 ORDER BY w.created_at DESC LIMIT 50`,
        [account.id],
      ),
      this.dataSource
        .getRepository(OperationEntity)
        .find({ where: { accountId: account.id }, order: { createdAt: 'DESC' }, take: 20 }),
      this.audit.find({ login, limit: 50 }),
    ]);
    const view = eligibilityAccount(account, new Date());
    const overrideLive = view.overrideActive;
    // As the settle wrote it: a wave's call answered that the mailstore does not know the login.
    if (waves.some((w) => answeredNotFound({ state: w.memberState, reason: w.reason }))) view.knownToMailstore = false;
    const decision = decideEligibility(view, PROTOCOLS, this.incidentAt);
    const note = (reason: string | null, ticket: string | null, by: string | null, at: Date | null) =>
      reason || ticket ? { reason, ticket, by, at } : null;
    return {
      login: account.login,
      cohorts: account.cohorts,
      leaked: account.leaked,
      passwordChangedAt: account.passwordChangedAt,
      access: {
        imap: account.imapEnabled,
        pop3: account.pop3Enabled,
        mailstoreVersion: account.mailstoreVersion,
        observedAt: account.stateObservedAt,
      },
      held: account.held,
      hold: account.held ? note(account.holdReason, account.holdTicket, account.heldBy, account.heldAt) : null,
      override:
        overrideLive && account.overrideExpiresAt
          ? {
              reason: account.overrideReason,
              ticket: account.overrideTicket,
              by: account.overrideBy,
              at: account.overrideAt,
              expiresAt: account.overrideExpiresAt,
            }
          : null,
      eligibility: decision.eligible ? { eligible: true, reason: null } : { eligible: false, reason: decision.reason },
      waves,
      operations: operations.map((op) => OperationDto.from(op)),
      history: history.items,
      version: account.version,
    };
  }
}
