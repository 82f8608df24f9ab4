import { invalidFields } from '@app/testing';
import { auditFilter, validateAuditQuery } from './audit-query.service';

describe('auditFilter', () => {
  it('finds the login as stored and an action family by its prefix', () => {
    expect(auditFilter({ login: '  Alice@Example.TEST ', action: 'support.*' })).toMatchObject({
      login: 'alice@example.test',
      action: { prefix: 'support.' },
      commandsOnly: false,
    });
    expect(auditFilter({ action: 'wave.start', kind: 'commands', cursor: '42' })).toMatchObject({
      action: { exact: 'wave.start' },
      commandsOnly: true,
      beforeId: '42',
    });
    expect(auditFilter({ kind: 'all' })).toEqual({
      waveId: undefined,
      login: undefined,
      from: undefined,
      to: undefined,
      action: undefined,
      commandsOnly: false,
      wavesOnly: false,
      beforeId: undefined,
    });
    expect(auditFilter({ kind: 'waves' })).toMatchObject({ commandsOnly: false, wavesOnly: true });
  });
});

describe('validateAuditQuery', () => {
  const fields = (query: Parameters<typeof validateAuditQuery>[0]) => invalidFields(() => validateAuditQuery(query));

  it('gives the page size, 100 by default', () => {
    expect(validateAuditQuery({})).toBe(100);
    expect(validateAuditQuery({ limit: 500 })).toBe(500);
  });

  it('names every bad field', () => {
    expect(
      fields({
        waveId: 'nope',
        login: ' ',
        from: new Date('2026-05-09'),
        to: new Date('2026-05-08'),
        action: 'wave start',
        kind: 'some' as never,
        cursor: '0',
        limit: 501,
      }),
    ).toEqual(['waveId', 'login', 'to', 'action', 'kind', 'cursor', 'limit']);
    expect(fields({ from: new Date('x') })).toEqual(['from']);
  });
});
