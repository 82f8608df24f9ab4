import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { EnvironmentDto } from '@app/config';
import { AccountRepository, AuditQueryService, NotFoundError, OperationRepository } from '@app/core';
import { answeredNotFound, decideEligibility, eligibilityAccount, PROTOCOLS } from '@app/domain';
import { OperationDto } from '../operations/operation.dto';
import { AccountDto } from './account.dto';

/**
 * One account for support, in four indexed reads (login, its wave memberships, its operations, its audit
 * history; their statements are libs/core's repositories). Eligibility is the domain's decision for a wave opening
 * both protocols, as a batch would see it now.
 */
@Injectable()
export class AccountLookupService {
  private readonly incidentAt: Date;
  private readonly accounts: AccountRepository;
  private readonly operations: OperationRepository;

  constructor(
    private readonly dataSource: DataSource,
    private readonly audit: AuditQueryService,
    config: EnvironmentDto,
  ) {
    this.incidentAt = new Date(config.INCIDENT_AT);
    this.accounts = new AccountRepository(dataSource);
    this.operations = new OperationRepository(dataSource);
  }

  async get(login: string): Promise<AccountDto> {
    const account = await this.accounts.findByLogin(this.dataSource.manager, login);
    if (!account) throw new NotFoundError('account', login);
    const [waves, operations, history] = await Promise.all([
      this.accounts.waveMemberships(account.id, 50),
      this.operations.recentForAccount(account.id, 20),
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
