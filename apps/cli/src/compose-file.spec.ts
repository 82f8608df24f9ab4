import { readFileSync } from 'node:fs';
import { join } from 'node:path';

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
