import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { SHUTDOWN_DEADLINES_MS } from '@app/config';

const root = join(__dirname, '../../..');
// scripts/validate-compose.js is plain JavaScript (.ci/run calls it): loaded as CI loads it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { composeProblems } = require(join(root, 'scripts/validate-compose.js')) as {
  composeProblems(text: string): string[];
};
const compose = readFileSync(join(root, 'docker-compose.yml'), 'utf8');

describe('docker-compose.yml (issue 16: validated in CI even where there is no Docker)', () => {
  it('is valid against the Compose Specification schema, and every process it runs is built from a source file', () => {
    expect(composeProblems(compose)).toEqual([]);
  });

  it('gives the API and the worker more time to stop than their own shutdown deadlines', () => {
    const services = (parse(compose, { merge: true }) as { services: Record<string, { stop_grace_period?: string }> })
      .services;
    const seconds = (d: string | undefined) => Number(/^(\d+)s$/.exec(d ?? '')?.[1] ?? 10); // Docker's default: 10 s
    expect(seconds(services.api.stop_grace_period) * 1000).toBeGreaterThan(SHUTDOWN_DEADLINES_MS.api);
    expect(seconds(services.worker.stop_grace_period) * 1000).toBeGreaterThan(SHUTDOWN_DEADLINES_MS.worker);
  });

  it.each([
    ['an unknown service key', compose.replace('  api:\n', '  api:\n    restartt: always\n'), /additional properties/],
    [
      'ports that are not a list',
      compose.replace("ports: ['127.0.0.1:3000:3000']", 'ports: 3000'),
      /ports must be array/,
    ],
    ['a process that is not built', compose.replace('dist/apps/api/src/main.js', 'dist/apps/api/src/mian.js'), /mian/],
    ['broken YAML', `${compose}\n  : [`, /not valid YAML/],
  ])('finds %s', (_what, text, problem) => {
    expect(text).not.toBe(compose);
    expect(composeProblems(text).join('\n')).toMatch(problem);
  });
});
