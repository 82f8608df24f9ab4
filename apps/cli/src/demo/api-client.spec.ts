import { once } from 'node:events';
import { createServer, Server } from 'node:http';
import { ApiCallError, ApiClient } from './api-client';

describe('ApiClient', () => {
  let server: Server;
  let origin: string;
  const seen: { method?: string; url?: string; auth?: string; type?: string; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        seen.push({
          method: req.method,
          url: req.url,
          auth: req.headers.authorization,
          type: req.headers['content-type'],
          body,
        });
        if (req.url === '/api/v1/waves' && req.method === 'POST') {
          res.writeHead(400, { 'Content-Type': 'application/problem+json' });
          res.end(
            JSON.stringify({
              status: 400,
              code: 'validation_failed',
              detail: 'the request has invalid fields',
              errors: [{ field: 'ratePerSecond', message: 'must be > 0' }],
            }),
          );
        } else if (req.url === '/api/v1/progress') {
          const fresh = req.headers['if-none-match'] === '"v1"';
          res.writeHead(fresh ? 304 : 200, { ETag: '"v1"', 'Content-Type': 'application/json' });
          res.end(fresh ? undefined : JSON.stringify({ waves: [] }));
        } else {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ lines: body.split('\n').filter(Boolean).length }));
        }
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  afterAll(() => server.close());

  it('turns a problem+json answer into an error naming the call, the code and every bad field', async () => {
    const api = new ApiClient(origin, 'rk_ops_x');
    const err = (await api.post('/waves', { ratePerSecond: 0 }).catch((e: unknown) => e)) as ApiCallError;
    expect(err).toBeInstanceOf(ApiCallError);
    expect(err.status).toBe(400);
    expect(err.problem?.code).toBe('validation_failed');
    expect(err.message).toContain('POST /api/v1/waves answered 400 validation_failed: the request has invalid fields');
    expect(err.message).toContain('ratePerSecond: must be > 0');
    expect(seen.at(-1)).toMatchObject({ auth: 'Bearer rk_ops_x', type: 'application/json' });
  });

  it('revalidates with the ETag: a 304 is "unchanged"', async () => {
    const viewer = new ApiClient(origin, 'rk_viewer_x');
    const first = await viewer.getIfChanged<{ waves: unknown[] }>('/progress', null);
    expect(first).toEqual({ changed: true, body: { waves: [] }, etag: '"v1"' });
    expect(await viewer.getIfChanged('/progress', '"v1"')).toEqual({ changed: false });
  });

  it('streams a CSV body', async () => {
    async function* chunks() {
      yield Buffer.from('login,cohorts,leaked,password_changed_at\n');
      yield Buffer.from('user1@example.test,health,false,\n');
    }
    const api = new ApiClient(origin, 'rk_ops_x');
    expect(await api.postCsv('/accounts/import', chunks())).toEqual({ lines: 2 });
    expect(seen.at(-1)?.type).toBe('text/csv; charset=utf-8');
  });

  it('says when nothing answers', async () => {
    const api = new ApiClient('http://127.0.0.1:1', 'k');
    await expect(api.get('/progress')).rejects.toThrow(/GET http:\/\/127\.0\.0\.1:1\/api\/v1\/progress: no answer/);
  });
});
