import { QueueUnavailableError } from '@app/queue';
import { nudge } from './queue-nudge';

describe('nudge', () => {
  it('lets a committed command go on when the queue refused its job (the reconciler adds it)', async () => {
    const refused = new QueueUnavailableError('job wave.pump pump-x not queued', 'connection reconnecting');
    await expect(nudge(() => Promise.reject(refused))).resolves.toBeUndefined();
  });

  it('still throws anything else (a bug, a bad payload)', async () => {
    const bug = new TypeError('x is not a function');
    await expect(nudge(() => Promise.reject(bug))).rejects.toBe(bug);
  });
});
