/**
 * bench:import — 1,000,000 synthetic accounts (3 % health, 12 % leaked, 80 % of those reset) imported into a
 * fresh database through the same service the CLI uses. The import runs in a child process so its peak RSS
 * (getrusage maxrss) is the import's own. Target: ≤ 15 s, peak RSS ≤ 200 MB.
 * Last line: {"bench":"import","rows","seconds","rowsPerSecond","peakRssMb",...}
 */
import 'reflect-metadata';
import { spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountImportService, IMPORT_READ_CHUNK_BYTES } from '@app/core';
import { createDataSource } from '@app/db';
import { DEFAULT_INCIDENT_AT, populationCsv } from '@app/domain';
import { benchDatabaseUrl, conditions, dropDatabase, log, migrateBench } from './bench-utils';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);

async function writePopulation(file: string): Promise<void> {
  if (existsSync(file) && statSync(file).size > 0) return;
  const out = createWriteStream(file);
  for (const chunk of populationCsv({ count: ROWS, seed: 42 })) {
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function child(file: string, url: string): Promise<void> {
  const ds = createDataSource({ url, poolSize: 1, applicationName: 'bench-import' });
  await ds.initialize();
  // What the process holds before the first row (Node, TypeORM, the service's libraries): most of the peak.
  const baselineRssMb = process.memoryUsage().rss / 1024 / 1024;
  const started = process.hrtime.bigint();
  const report = await new AccountImportService(ds, new Date(DEFAULT_INCIDENT_AT)).importCsv(
    createReadStream(file, { highWaterMark: IMPORT_READ_CHUNK_BYTES }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await ds.destroy();
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ report, seconds, peakRssMb, baselineRssMb }) + '\n');
}

async function main(): Promise<void> {
  const file = join(tmpdir(), `reopen-population-${ROWS}-seed42.csv`);
  log(`generating ${ROWS} rows into ${file} (not timed)…`);
  await writePopulation(file);
  const url = benchDatabaseUrl('import');
  await migrateBench(url);
  try {
    log('importing in a child process…');
    const run = spawnSync(process.execPath, [__filename, '--child', file, url], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    if (run.status !== 0) throw new Error(`import child failed: ${run.stderr}`);
    const { report, seconds, peakRssMb, baselineRssMb } = JSON.parse(run.stdout.trim().split('\n').pop()!) as {
      report: { inserted: number; status: string };
      seconds: number;
      peakRssMb: number;
      baselineRssMb: number;
    };
    if (report.status !== 'imported' || report.inserted !== ROWS)
      throw new Error(`unexpected report ${JSON.stringify(report)}`);
    const result = {
      bench: 'import',
      rows: ROWS,
      seconds: Number(seconds.toFixed(2)),
      rowsPerSecond: Math.round(ROWS / seconds),
      peakRssMb: Math.round(peakRssMb),
      baselineRssMb: Math.round(baselineRssMb),
      targetSeconds: 15,
      targetPeakRssMb: 200,
      ...(await conditions()),
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await dropDatabase(url);
  }
}

const [, , mode, file, url] = process.argv;
(mode === '--child' ? child(file, url) : main()).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
