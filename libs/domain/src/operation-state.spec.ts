import { OPERATION_STATES, operationEnded } from './operation-state';

describe('operation states', () => {
  it('an operation has ended once it succeeded or failed, and only then', () => {
    expect(OPERATION_STATES.filter(operationEnded)).toEqual(['succeeded', 'failed']);
  });
});
