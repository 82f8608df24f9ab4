import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPlan } from './plan-file';

describe('reopen: a wave plan file', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'reopen-plan-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('reads YAML and JSON to the same body', () => {
    const body = {
      name: 'health',
      selector: { type: 'cohorts', cohorts: ['health'] },
      protocols: ['imap', 'pop3'],
      startLocal: '2026-05-09T08:00',
      ratePerSecond: 200,
      steps: [
        { percent: 10, bakeSeconds: 1800 },
        { percent: 100, bakeSeconds: 0 },
      ],
    };
    const yaml = file(
      'health.yaml',
      `# reviewed in CHG-42
name: health
selector: { type: cohorts, cohorts: [health] }
protocols: [imap, pop3]
startLocal: "2026-05-09T08:00"
ratePerSecond: 200
steps:
  - { percent: 10, bakeSeconds: 1800 }
  - { percent: 100, bakeSeconds: 0 }
`,
    );
    expect(readPlan(yaml)).toEqual(body);
    expect(readPlan(file('health.json', JSON.stringify(body)))).toEqual(body);
  });

  it.each([
    ['dup.yaml', 'name: a\nname: b\n', 'is not valid YAML: Map keys must be unique'],
    ['list.yaml', '- name: a\n', 'a plan is a mapping'],
    ['empty.yaml', '', 'a plan is a mapping'],
    ['bad.json', '{"name": "a",}', 'is not valid JSON'],
  ])('refuses %s', (name, text, message) => {
    expect(() => readPlan(file(name, text))).toThrow(message);
  });

  it('says which file it cannot read', () => {
    expect(() => readPlan(join(dir, 'missing.yaml'))).toThrow(`cannot read ${join(dir, 'missing.yaml')}: ENOENT`);
  });
});
