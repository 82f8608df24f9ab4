import { batchKeySql, redecidedBatchKeySql } from './idempotency';

// The engine's statements as they were written by hand before batchKeySql: the generated SQL must be the same.
describe('batchKeySql: batchKey for the claim statements', () => {
  it.each([
    ['forward', `'wave-' || $1 || '/forward/batch-' || b.id`],
    ['rollback', `'wave-' || $1 || '/rollback/batch-' || b.id`],
  ] as const)('%s', (kind, sql) => {
    expect(batchKeySql('$1', kind, 'b.id')).toBe(sql);
  });

  it('a redecided batch: its key with ~<attempts>', () => {
    expect(redecidedBatchKeySql('idempotency_key', 'attempts')).toBe(`idempotency_key || '~' || attempts`);
  });
});
