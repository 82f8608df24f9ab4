/**
 * bench:halt — "halt means halt": how long after a pause returns can a mailstore call still start? A wave runs
 * at full speed (rate 1e6/s, batch 500, one worker process); the bench pauses it through WaveCommandsService.pause
 * (what the API's POST /waves/{id}/pause calls) once the last second's calls carry ≥ 4,000 accounts (full speed on
 * this machine), waits 2 s, and reads the simulator's call log: haltMs = startedAt of the last batch call − the
 * instant pause() returned (≤ 0 reported as 0). Then resume, let it reach full speed again, and repeat.
 *
 *   npm run bench:halt [-- --repeats=5 --accounts=500000 --concurrency=6 --min-rate=4000]
 *
 * Target: haltMs ≤ 500 (max over the repeats). Last line: {"bench":"halt","haltMs","haltMsMedian",...}
 */
import { log } from './bench-utils';
import { RecentBatchCalls, simCalls, waveRow } from './engine-bench-checks';
import { epochMs, numberOption, round, runBench, sleep, waveBenchOptions } from './engine-bench-utils';
import { engineBenchWorld, fullSpeedWave } from './engine-bench-world';

const OPTIONS = waveBenchOptions({ accounts: 500_000 });
const { accounts: ACCOUNTS, concurrency: CONCURRENCY } = OPTIONS;
const REPEATS = numberOption('repeats', 5);
/** Pause only at full speed: at least this many accounts/s in the last second (and MIN_RUN_MS of running). */
const MIN_RATE = numberOption('min-rate', 4000);
const MIN_RUN_MS = 1500;
const MAX_WAIT_MS = 30_000;
const QUIET_MS = 2000;

runBench('halt', async (cleanup) => {
  const { sim, dataSource: ds, commands } = await engineBenchWorld(cleanup, 'halt', OPTIONS);
  const wave = await fullSpeedWave('bench: halt', CONCURRENCY).started({ commands }, 'ops:bench');

  const runs: { haltMs: number; rawMs: number; pauseCallMs: number; callsDuringPause: number; rate: number }[] = [];
  for (let i = 0; i < REPEATS; i++) {
    // Full speed: wait until the last second's calls carry at least MIN_RATE accounts (or give up waiting).
    const recent = await RecentBatchCalls.follow(sim.adminUrl);
    const waitStart = Date.now();
    let rate: number;
    for (;;) {
      await sleep(250);
      rate = await recent.poll();
      if (Date.now() - waitStart >= MIN_RUN_MS && rate >= MIN_RATE) break;
      if (Date.now() - waitStart > MAX_WAIT_MS) break;
    }
    if ((await waveRow(ds, wave.id)).state !== 'running') {
      log(`wave no longer running after ${runs.length} pauses: raise --accounts`);
      break;
    }
    if (!recent.calls.length) throw new Error('no batch call in the last second before the pause');
    const before = recent.calls;

    const called = epochMs();
    await commands.pause(wave.id, 'ops:bench');
    const returned = epochMs();
    await sleep(QUIET_MS);
    const after = (await simCalls(sim.adminUrl, recent.seq)).filter((c) => c.endpoint === 'batch');
    const lastStart = Math.max(...after.map((c) => c.startedAt), before[before.length - 1].startedAt);
    const rawMs = lastStart - returned;
    const lateCalls = after.filter((c) => c.startedAt > returned).length;
    runs.push({
      haltMs: Math.max(0, rawMs),
      rawMs,
      pauseCallMs: returned - called,
      callsDuringPause: after.filter((c) => c.startedAt >= called && c.startedAt <= returned).length,
      rate,
    });
    log(
      `pause ${i + 1}: pause() took ${Math.round(returned - called)} ms; last call started ${rawMs.toFixed(1)} ms ` +
        `after it returned (${lateCalls} calls after); ~${rate} accounts/s before`,
    );
    await commands.resume(wave.id, 'ops:bench');
  }
  await commands.pause(wave.id, 'ops:bench').catch(() => undefined);
  if (!runs.length) throw new Error('no pause measured');
  const sorted = runs.map((r) => r.haltMs).sort((a, b) => a - b);
  const haltMs = round(sorted[sorted.length - 1], 1);
  return {
    haltMs,
    haltMsMedian: round(sorted[Math.floor((sorted.length - 1) / 2)], 1),
    pass: haltMs <= 500,
    targetMs: 500,
    repeats: runs.length,
    runs: runs.map((r) => ({
      haltMs: round(r.haltMs, 1),
      lastCallMinusReturnMs: round(r.rawMs, 1),
      pauseCommandMs: round(r.pauseCallMs, 1),
      callsStartedDuringPauseCommand: r.callsDuringPause,
      accountsPerSecondBefore: r.rate,
    })),
    concurrency: CONCURRENCY,
    accounts: ACCOUNTS,
  };
});
