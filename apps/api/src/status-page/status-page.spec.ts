import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import express from 'express';
import { statusPage, statusPageDir } from './status-page';

describe('status page', () => {
  const dir = statusPageDir();
  const app = express()
    .use(statusPage(dir))
    .use((_req, res) => res.status(404).send('api'));
  let server: Server;
  let origin = '';
  beforeAll(async () => {
    server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('serves index.html at / without a key, under a self-only CSP', async () => {
    const res = await fetch(`${origin}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/^default-src 'self'(;|$)/);
    expect(csp).toMatch(/(^|;)frame-ancestors 'none'(;|$)/);
    expect(csp).not.toMatch(/unsafe-|\*|https?:|data:/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(await res.text()).toContain('<script src="app.js" defer></script>');
  });

  it('leaves other paths and methods to the API', async () => {
    expect((await fetch(`${origin}/api/v1/progress`)).status).toBe(404);
    expect((await fetch(`${origin}/`, { method: 'POST' })).status).toBe(404);
  });

  it('keeps markup free of what the CSP would block: inline scripts, handlers, style attributes, other origins', () => {
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    expect(html).not.toMatch(/\sstyle=/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  describe('its strings, in English and French (i18n.js)', () => {
    type Strings = Record<string, unknown>;
    const sandbox = { window: {} as { REOPEN_I18N?: Record<string, Strings> } };
    runInNewContext(readFileSync(join(dir, 'i18n.js'), 'utf8'), sandbox);
    const languages = sandbox.window.REOPEN_I18N!;
    /** Every key path, with the kind of value (a string, or a function of so many figures). */
    const shape = (strings: Strings, at = ''): string[] =>
      Object.entries(strings).flatMap(([key, value]) =>
        typeof value === 'object' && value !== null
          ? shape(value as Strings, `${at}${key}.`)
          : [`${at}${key}:${typeof value === 'function' ? `fn${(value as () => string).length}` : typeof value}`],
      );

    it('has both languages with the same keys, each a string or a function of the same figures', () => {
      expect(Object.keys(languages).sort()).toEqual(['en', 'fr']);
      expect(shape(languages.fr).sort()).toEqual(shape(languages.en).sort());
    });

    it('has a string in each language for every text the markup names, and no empty one', () => {
      const html = readFileSync(join(dir, 'index.html'), 'utf8');
      const keys = [...html.matchAll(/data-i18n="([^"]+)"/g)].map((m) => m[1]);
      expect(keys.length).toBeGreaterThan(20);
      for (const lang of ['en', 'fr']) {
        for (const key of keys) {
          const value = languages[lang][key];
          expect({ lang, key, ok: typeof value === 'string' && value.trim() !== '' }).toEqual({ lang, key, ok: true });
        }
      }
      // The French texts are French, not copies of the English ones (a few words are the same in both: "ok", "—",
      // and "pause", listed).
      const same = shape(languages.en).filter((k) => {
        const [path] = k.split(':');
        const get = (l: Strings) => path.split('.').reduce<unknown>((o, p) => (o as Strings)?.[p], l);
        const en = get(languages.en);
        return typeof en === 'string' && en.length > 3 && en === get(languages.fr);
      });
      expect(same).toEqual(['gateActionName.pause:string']);
    });
  });

  describe('its figures (format.js)', () => {
    type Format = {
      num(v: number): string;
      percent(v: number): string;
      perSecond(v: number): string;
      clock(iso: string): string;
      unit(v: number | null, unit: string): string;
    };
    const load = (lang: string, timeZone = 'UTC'): Format => {
      const sandbox = { window: {} as { REOPEN_FORMAT?: (...args: unknown[]) => Format }, Intl };
      runInNewContext(readFileSync(join(dir, 'format.js'), 'utf8'), sandbox);
      return sandbox.window.REOPEN_FORMAT!(lang, { perSecond: (r: string) => `${r}/s` }, timeZone);
    };
    const en = load('en');
    const fr = load('fr', 'Europe/Paris');

    it('keeps the precision a gate needs: 0.05 is 5 %, a 4 % error rate is not 0, small values keep their digits', () => {
      expect(en.unit(0.05, 'fraction')).toBe('5 %');
      expect(en.unit(0.04, 'fraction')).toBe('4 %');
      expect(en.unit(0.0412, 'fraction')).toBe('4.12 %');
      expect(en.unit(0.0004, 'fraction')).toBe('0.04 %');
      expect(en.unit(0.07, 'fraction')).toBe('7 %'); // 7.000000000000001 in floating point
      expect(en.unit(0.05, 'number')).toBe('0.05');
      expect(en.unit(2500, 'ms')).toBe('2,500 ms');
      expect(en.unit(12.25, 'per_minute')).toBe('12.3/min');
      expect(en.unit(null, 'fraction')).toBe('—');
      expect(en.num(22.43)).toBe('22.4');
      expect(en.num(123_456.7)).toBe('123,457');
      expect(en.perSecond(0.25)).toBe('0.25/s');
      expect(en.percent(0.5)).toBe('50 %');
    });

    it('writes French figures the French way', () => {
      expect(fr.unit(0.0412, 'fraction')).toBe('4,12 %');
      expect(fr.num(123_456.7)).toBe('123\u202f457');
    });

    it('gives 24-hour times with the zone', () => {
      expect(en.clock('2026-12-06T21:05:09Z')).toBe('21:05:09 UTC');
      expect(fr.clock('2026-12-06T21:05:09Z')).toBe('22:05:09 UTC+1');
      expect(en.clock('2026-12-06T00:00:01Z')).toBe('00:00:01 UTC');
    });
  });
});
