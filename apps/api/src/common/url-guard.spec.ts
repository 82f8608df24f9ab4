import { routeLabelOf, undecodableParam, undecodableQueryParam } from './url-guard';

describe('undecodableParam', () => {
  const templates = [
    '/api/v1/accounts/import',
    '/api/v1/accounts/{login}',
    '/api/v1/accounts/{login}/enable',
    '/api/v1/waves/{id}',
    '/api/v1/waves/{id}/progress',
  ];

  it.each([
    ['/api/v1/accounts/%FF', 'login'],
    ['/api/v1/accounts/%C0%AF/enable', 'login'],
    ['/api/v1/accounts/a%ED%A0%80b/', 'login'],
    ['/API/V1/Waves/%zz/progress', 'id'],
    ['/api/v1/waves/%E2%82', 'id'],
  ])('%s names %s', (path, name) => {
    expect(undecodableParam(templates, path)).toBe(name);
  });

  it.each([
    ['/api/v1/accounts/user%40example.test'],
    ['/api/v1/accounts/%00'],
    ['/api/v1/nope/%FF'],
    ['/api/v1/accounts/%FF/nope'],
    ['/api/v1/%FF/x'],
  ])('%s is left to the router (decodable, or no route has a parameter there)', (path) => {
    expect(undecodableParam(templates, path)).toBeUndefined();
  });
});

describe('undecodableQueryParam', () => {
  it.each([
    ['login=%FF', 'login'],
    ['limit=5&cursor=%C0%AF', 'cursor'],
    ['a+b=%ED%A0%80', 'a b'],
    ['%FF=1', 'query'],
    ['x=1&%zz', 'query'],
  ])('%s names %s', (query, name) => {
    expect(undecodableQueryParam(query)).toBe(name);
  });

  it.each([['login=a%40b.c&limit=5'], ['x=%00'], ['flag'], ['a=1+2'], ['']])('%s passes', (query) => {
    expect(undecodableQueryParam(query)).toBeUndefined();
  });
});

describe('routeLabelOf', () => {
  const templates = [
    '/api/v1/waves',
    '/api/v1/waves/{id}',
    '/api/v1/waves/{id}/pause',
    '/api/v1/accounts/{login}/enable',
    '/api/v1/accounts/import',
    '/api/v1/accounts/{login}',
  ];

  it("names the route a path reaches, in Express's :name form", () => {
    expect(routeLabelOf(templates, '/api/v1/waves')).toBe('/api/v1/waves');
    expect(routeLabelOf(templates, '/api/v1/waves/')).toBe('/api/v1/waves');
    expect(routeLabelOf(templates, '/api/v1/WAVES/abc/pause')).toBe('/api/v1/waves/:id/pause');
    expect(routeLabelOf(templates, '/api/v1/accounts/a%40b.test/enable')).toBe('/api/v1/accounts/:login/enable');
  });

  it('prefers the route with the most literal segments, as Express would reach it', () => {
    expect(routeLabelOf(templates, '/api/v1/accounts/import')).toBe('/api/v1/accounts/import');
    expect(routeLabelOf(templates, '/api/v1/accounts/someone')).toBe('/api/v1/accounts/:login');
  });

  it('is undefined where no route fits', () => {
    expect(routeLabelOf(templates, '/api/v1/nothing')).toBeUndefined();
    expect(routeLabelOf(templates, '/api/v1/waves/a/b/c')).toBeUndefined();
  });
});
