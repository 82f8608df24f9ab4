import type { DataSource } from 'typeorm';
import type { QueueProducer } from '@app/queue';
import type { WaveCommandsService } from '../waves/wave-commands.service';
import type { ReconcileRepository } from './reconcile.repository';
import { Reconciler } from './reconciler';

describe('the reconciler: one failing wave does not stop the round for the others', () => {
  it('fires the other schedules, ends the bakes, re-adds the pumps and operations, then fails with that error', async () => {
    const done: string[] = [];
    const poison = new Error('value "3456045718" is out of range for type integer');
    const repo = {
      dueSchedules: () => Promise.resolve(['poisoned', 'due']),
      endedBakes: () => Promise.resolve([{ id: 'baked', current_step: 1 }]),
      windowedWaves: () => Promise.resolve([]),
      activeWaves: () => Promise.resolve([{ id: 'running', state: 'running', generation: 3, concurrency: 2 }]),
      dueVerifications: () => Promise.resolve([]),
      stoppedWithStaleBatches: () => Promise.resolve([]),
      stalledOperations: () => Promise.resolve(['op-1']),
    } as unknown as ReconcileRepository;
    const commands = {
      clock: () => new Date(),
      fireSchedule: (id: string) => {
        if (id === 'poisoned') return Promise.reject(poison);
        done.push(`fire ${id}`);
        return Promise.resolve({ id, from: 'scheduled', state: 'running', noop: false });
      },
      endBake: (id: string) => {
        done.push(`end bake ${id}`);
        return Promise.resolve({ id, from: 'paused', state: 'running', noop: false });
      },
      addPumps: (id: string) => {
        done.push(`pumps ${id}`);
        return Promise.resolve();
      },
    } as unknown as WaveCommandsService;
    const producer = {
      addOperation: (id: string) => {
        done.push(`operation ${id}`);
        return Promise.resolve();
      },
    } as unknown as QueueProducer;
    const reconciler = new Reconciler({} as DataSource, producer, commands, undefined, repo);

    // Before: the first schedule's error ended the round there, every round: nothing below it ever ran again.
    await expect(reconciler.run()).rejects.toBe(poison);
    expect(done).toEqual(['fire due', 'end bake baked', 'pumps running', 'operation op-1']);
  });
});
