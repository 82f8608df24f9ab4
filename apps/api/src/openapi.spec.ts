import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureFreshBuild } from '../../../test/e2e/api-process';

const ROOT = join(__dirname, '../../..');
const CHECKED_IN = join(ROOT, 'docs/openapi.json');

/**
 * docs/openapi.json is generated from the controllers and DTOs; this fails when they drift apart.
 * Regenerate with `UPDATE_OPENAPI=1 npx jest apps/api/src/openapi`. The document is built by the compiled app
 * (node dist/apps/api/src/openapi.js): @nestjs/swagger does not load under Jest's CommonJS transform.
 */
describe('OpenAPI document', () => {
  it('matches docs/openapi.json', () => {
    ensureFreshBuild();
    const run = spawnSync(process.execPath, [join(ROOT, 'dist/apps/api/src/openapi.js')], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    expect(run.stderr).toBe('');
    const generated = run.stdout;
    if (process.env.UPDATE_OPENAPI) writeFileSync(CHECKED_IN, generated);
    expect(JSON.parse(readFileSync(CHECKED_IN, 'utf8'))).toEqual(JSON.parse(generated));
  });

  it('documents every route with its roles and the problem answers', () => {
    const doc = JSON.parse(readFileSync(CHECKED_IN, 'utf8')) as {
      paths: Record<string, Record<string, { 'x-roles'?: string[]; responses: Record<string, unknown> }>>;
    };
    for (const [path, operations] of Object.entries(doc.paths)) {
      expect(path.startsWith('/api/v1/')).toBe(true);
      for (const [method, op] of Object.entries(operations)) {
        expect({ route: `${method} ${path}`, roles: Array.isArray(op['x-roles']) }).toEqual({
          route: `${method} ${path}`,
          roles: true,
        });
        if (op['x-roles']!.length) expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['401', '403']));
      }
    }
  });

  it('states the bounds the validators enforce, so clients (and the bad-input suite) read the same limits', () => {
    type Schema = { properties: Record<string, { type?: string; maxLength?: number; maxItems?: number }> };
    const doc = JSON.parse(readFileSync(CHECKED_IN, 'utf8')) as { components: { schemas: Record<string, Schema> } };
    const { HoldDto, CreateWaveDto, UpdateWaveDto, WaveSelectorDto } = doc.components.schemas;
    expect(HoldDto.properties.reason.maxLength).toBe(500);
    expect(CreateWaveDto.properties.batchSize.type).toBe('integer');
    expect(UpdateWaveDto.properties.name.maxLength).toBe(200);
    expect(WaveSelectorDto.properties.logins.maxItems).toBe(100_000);
  });
});
