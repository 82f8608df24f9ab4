import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith('.ts') && !e.name.includes('spec.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

/** style.md: the API registers producers only, so it can never quietly do provisioning work. */
describe('the API process', () => {
  const files = sources(__dirname).map((f) => ({ file: relative(__dirname, f), text: readFileSync(f, 'utf8') }));

  it('runs no queue processor and no mailstore client', () => {
    const offending = files
      .filter(({ text }) =>
        /\bnew (Worker|QueueEvents|WavePump|OperationRunner|MailstoreClient|GateEvaluator|Reconciler)\b|@Processor\(|from '@app\/mailstore'/.test(
          text,
        ),
      )
      .map((f) => f.file);
    expect(offending).toEqual([]);
  });

  it('keeps controllers thin: no SQL and no data source in them', () => {
    const controllers = files.filter((f) => f.file.endsWith('.controller.ts'));
    expect(controllers.length).toBeGreaterThanOrEqual(10);
    const offending = controllers.filter(({ text }) => /DataSource|\.query\(|SELECT |INSERT |UPDATE /.test(text));
    expect(offending.map((f) => f.file)).toEqual([]);
  });
});
