import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { freeLoopbackPort, WorkerProcess } from '@app/testing';
import { ApiHarness, startApiHarness } from './api-harness';
import { exportedNames, promqlMetricNames, sumOf } from './prometheus-text';

const DEPLOY = join(__dirname, '../../deploy');
const VERSION = (JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string })
  .version;
const RULES = join(DEPLOY, 'prometheus/reopen-alerts.yml');
const RULES_TEST = join(DEPLOY, 'prometheus/reopen-alerts.test.yml');
const DASHBOARD = join(DEPLOY, 'grafana/reopen-access.dashboard.json');

/** promtool's answer (stdout and stderr); a failure throws with what it said. */
function promtool(...args: string[]): string {
  try {
    return execFileSync('promtool', args, { cwd: join(DEPLOY, 'prometheus'), encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    const e = err as { code?: string; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error('promtool is missing: install Debian package prometheus (.ci/run does)', { cause: err });
    }
    throw new Error(`promtool ${args.join(' ')}:\n${e.stdout ?? ''}${e.stderr ?? ''}`, { cause: err });
  }
}

interface RuleFile {
  groups: {
    name: string;
    rules: { alert?: string; record?: string; expr: string; annotations?: Record<string, string> }[];
  }[];
}

const RUNBOOK = join(__dirname, '../../docs/runbook.md');

/** The anchors GitHub gives a Markdown file's headings (lower case, punctuation dropped, spaces as hyphens). */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const m of markdown.matchAll(/^#{1,6} (.+)$/gm)) {
    anchors.add(
      m[1]
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-'),
    );
  }
  return anchors;
}
interface Panel {
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

/** Every query of the rules file and of the dashboard, named by where it is. */
function queries(): { where: string; expr: string }[] {
  const rules = parse(readFileSync(RULES, 'utf8')) as RuleFile;
  const out = rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr })));
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
  const walk = (panels: Panel[]): void => {
    for (const p of panels) {
      for (const t of p.targets ?? []) {
        // Grafana's variables: $wave sits in a regex matcher; interval variables would be replaced by a duration.
        out.push({ where: `panel ${p.title}`, expr: t.expr.replace(/\$__(rate_)?interval/g, '5m') });
      }
      walk(p.panels ?? []);
    }
  };
  walk(dashboard.panels);
  return out;
}

/**
 * What ships in deploy/ for monitoring (issue 21): the alert rules pass promtool's checks and its unit tests, and every
 * metric the rules and the Grafana dashboard query is one the API or the worker really exports (scraped from both, as
 * built), so a renamed metric cannot leave a dashboard blank or an alert that can never fire.
 */
describe('deploy/: the alert rules and the dashboard', () => {
  let api: ApiHarness;
  let worker: WorkerProcess | undefined;
  let workerPort: number;

  beforeAll(async () => {
    api = await startApiHarness('monitoring', { accounts: 5 });
    workerPort = await freeLoopbackPort();
    worker = await WorkerProcess.start({ ...api.h.env, WORKER_HEALTH_PORT: String(workerPort) });
  });
  afterAll(async () => {
    await worker?.kill();
    await api?.close();
  });

  it('pass promtool check rules and promtool test rules', () => {
    expect(promtool('check', 'rules', RULES)).toMatch(/SUCCESS: \d+ rules found/);
    expect(promtool('test', 'rules', RULES_TEST)).toMatch(/SUCCESS/);
  });

  it('query only metrics that the API and the worker export', async () => {
    const apiText = (await api.call('GET', '/metrics', { key: 'viewer' })).text;
    const workerText = await (await fetch(`http://127.0.0.1:${workerPort}/metrics`)).text();
    const exported = new Set([...exportedNames(apiText), ...exportedNames(workerText)]);
    // Each process says which build it runs (the dashboard's "Builds running" panel counts them).
    const build = { version: VERSION, node: process.version };
    expect(sumOf(apiText, 'reopen_build_info', { process: 'api', ...build })).toBe(1);
    expect(sumOf(workerText, 'reopen_build_info', { process: 'worker', ...build })).toBe(1);
    expect(exported.has('reopen_wave_state')).toBe(true); // the API's, before any wave
    expect(exported.has('reopen_mailstore_call_duration_seconds_bucket')).toBe(true); // the worker's, before any call

    const all = queries();
    expect(all.filter((q) => q.where.startsWith('rule')).length).toBeGreaterThanOrEqual(5);
    expect(all.filter((q) => q.where.startsWith('panel')).length).toBeGreaterThanOrEqual(20);
    const unknown = all.flatMap(({ where, expr }) =>
      promqlMetricNames(expr)
        .filter((name) => !exported.has(name))
        .map((name) => `${where}: ${name}`),
    );
    expect(unknown).toEqual([]);
    // Every query names at least one metric (a constant or a typo the parser took for a function is no query).
    expect(all.filter((q) => promqlMetricNames(q.expr).length === 0)).toEqual([]);
  });

  it('link every alert to its section of docs/runbook.md, which exists', () => {
    const rules = (parse(readFileSync(RULES, 'utf8')) as RuleFile).groups.flatMap((g) => g.rules);
    const anchors = headingAnchors(readFileSync(RUNBOOK, 'utf8'));
    const alerts = rules.filter((r) => r.alert);
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    const links = alerts.map((r) => [r.alert, r.annotations?.runbook_url]);
    expect(links).toEqual(alerts.map((r) => [r.alert, `docs/runbook.md#${r.alert!.toLowerCase()}`]));
    expect(alerts.map((r) => r.alert!.toLowerCase()).filter((a) => !anchors.has(a))).toEqual([]);
    // The check itself: a heading with punctuation and a missing anchor.
    expect(headingAnchors('## The night before\n### ReopenNoWorker (page)\n')).toEqual(
      new Set(['the-night-before', 'reopennoworker-page']),
    );
  });

  it('the name check itself catches an unknown metric and a broken query', () => {
    expect(promqlMetricNames('sum(rate(reopen_not_a_metric_total[5m])) / on () max(up)')).toEqual([
      'reopen_not_a_metric_total',
      'up',
    ]);
    expect(() => promqlMetricNames('sum(rate(reopen_wave_state[5m])')).toThrow(/not PromQL/);
  });
});
