// The incident-room status page: polls the progress views every 2 s (If-None-Match, so an unchanged view is a
// bodyless 304), reads each wave's whole rate history and its gates' measurements from the API (a reload or a
// newcomer sees the whole wave), and with an ops key offers the commands that fit each wave's state. Every string
// comes from i18n.js (English, French); times are 24-hour with the zone.
'use strict';

(() => {
  const API = '/api/v1';
  const POLL_MS = 2000;
  /** A running wave's history and measurements are read again at most this often (the API caches them 2 s). */
  const DETAILS_MS = 5000;
  const SETTLE_MS = 20_000;
  const FINISHED_MS = 60_000;
  const MEASUREMENTS = 20;
  /** GET /workers at most this often: a worker counts as gone 15 s after its last report. */
  const WORKERS_MS = 5000;
  const KEY_STORE = 'reopen.apiKey';
  const LANG_STORE = 'reopen.lang';
  const I18N = window.REOPEN_I18N;
  // What an ops key may ask of a wave in each state (libs/domain wave-state.ts; a rolled back wave cannot change).
  const ACTIONS = {
    pause: ['running'],
    resume: ['paused', 'halted'],
    cancel: ['draft', 'scheduled', 'running', 'paused', 'halted'],
    rollback: ['running', 'paused', 'halted', 'completed', 'cancelled'],
    'set-rate': ['draft', 'scheduled', 'running', 'paused', 'halted', 'rolling_back'],
  };
  const SENDING = ['running', 'rolling_back'];
  const FINISHED = ['completed', 'cancelled', 'rolled_back'];

  const $ = (id) => document.getElementById(id);
  const page = {
    key: sessionStorage.getItem(KEY_STORE) ?? '',
    role: null, // 'ops' once the audit log answers; else the role a 403 names
    generation: 0, // bumped on every key change: answers for an older key are dropped
    timer: undefined,
    views: new Map(), // path -> { etag, body }
    shown: new Map(), // waveId -> the newest view on screen
    cards: new Map(), // waveId -> article
    details: new Map(), // waveId -> { at, state, history, measurements }
    audit: null, // the last audit items shown
    members: null, // { waveId } while the audit pane shows one wave's member events
    workers: null, // { at, roster }: GET /workers, read every WORKERS_MS
  };

  // ---- language and formats ------------------------------------------------------------------------------

  let lang = 'en';
  let T = I18N.en;
  let fmt;

  function pickLanguage() {
    const stored = window.localStorage.getItem(LANG_STORE);
    if (stored && I18N[stored]) return stored;
    const preferred = window.navigator.languages?.length ? window.navigator.languages : [window.navigator.language];
    return preferred.some((l) => /^fr\b/i.test(l ?? '')) ? 'fr' : 'en';
  }

  function setLanguage(l) {
    lang = I18N[l] ? l : 'en';
    T = I18N[lang];
    fmt = window.REOPEN_FORMAT(lang, T);
    document.documentElement.lang = lang;
    $('lang').value = lang;
    for (const root of [document, $('wave-template').content]) {
      for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = T[el.dataset.i18n];
    }
    for (const [id, card] of page.cards) if (page.shown.has(id)) renderWave(card, page.shown.get(id));
    renderAuditPane();
    renderWorkers();
  }

  // ---- HTTP ----------------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, problem) {
      super(problem.detail ?? `HTTP ${status}`);
      this.status = status;
      this.problem = problem;
    }
  }

  async function call(method, path, { conditional = false, body } = {}) {
    const headers = { Authorization: `Bearer ${page.key}`, Accept: 'application/json' };
    const known = conditional ? page.views.get(path) : undefined;
    if (known) headers['If-None-Match'] = known.etag;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(API + path, {
      method,
      headers,
      cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 304 && known) return known.body;
    const text = await res.text();
    let parsed;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = { detail: text.slice(0, 200) };
    }
    if (!res.ok) throw new ApiError(res.status, parsed);
    const etag = res.headers.get('ETag');
    if (conditional && etag) page.views.set(path, { etag, body: parsed });
    return parsed;
  }

  /** A problem's detail, with the fields it names (a 400 names each bad field). */
  function why(err) {
    const fields = err instanceof ApiError && Array.isArray(err.problem.errors) ? err.problem.errors : [];
    const named = fields.map((e) => `${e.field}: ${e.message}`).join('; ');
    return named ? `${err.message} (${named})` : err.message;
  }

  function say(text) {
    $('status').textContent = text;
  }
  function alarm(text) {
    $('alert').textContent = text;
    $('alert').hidden = !text;
  }

  // ---- polling -------------------------------------------------------------------------------------------

  function start(key) {
    page.generation += 1;
    clearTimeout(page.timer);
    Object.assign(page, { key, role: null, audit: null, workers: null });
    renderWorkers();
    page.views.clear();
    page.shown.clear();
    page.details.clear();
    for (const card of page.cards.values()) card.remove();
    page.cards.clear();
    $('no-waves').hidden = true;
    $('updated').textContent = '';
    alarm('');
    renderAuditPane();
    if (key) void poll(page.generation);
  }

  async function poll(generation) {
    try {
      const overview = await call('GET', '/progress', { conditional: true });
      if (generation !== page.generation) return;
      renderWaves(overview.waves);
      await Promise.all([
        refreshAudit(generation),
        refreshWorkers(generation),
        ...overview.waves.map((w) => refreshDetails(w, generation)),
      ]);
      if (generation !== page.generation) return;
      page.updatedAt = new Date().toISOString();
      $('updated').textContent = T.updated(fmt.clock(page.updatedAt));
      alarm('');
    } catch (err) {
      if (generation !== page.generation) return;
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
        // A refused key will not start working by itself: stop and ask for another one.
        sessionStorage.removeItem(KEY_STORE);
        page.generation += 1;
        say('');
        alarm(T.keyRefused(err.message));
        return;
      }
      alarm(T.cannotRead(err.message, POLL_MS / 1000));
    }
    if (generation === page.generation) page.timer = setTimeout(() => void poll(generation), POLL_MS);
  }

  /**
   * The wave's whole rate history and its Prometheus gates' measurements: when first seen, when its state changed, and
   * every DETAILS_MS while it may still move or for SETTLE_MS after it stopped (the API caches a history for a few
   * seconds, and batches in flight at a pause or a cancel still land); a finished wave's, every FINISHED_MS. A failed
   * read keeps what is on screen.
   */
  async function refreshDetails(w, generation, force = false) {
    const known = page.details.get(w.waveId);
    const now = Date.now();
    const changedAt = known && known.state === w.state ? known.changedAt : now;
    const every = !FINISHED.includes(w.state) || now - changedAt < SETTLE_MS ? DETAILS_MS : FINISHED_MS;
    const due = force || !known || known.state !== w.state || now - known.at >= every;
    if (!due) return;
    const measured = w.gates.some((g) => g.metric === 'prometheus');
    try {
      const [history, measurements] = await Promise.all([
        call('GET', `/waves/${w.waveId}/history`, { conditional: true }),
        measured
          ? call('GET', `/waves/${w.waveId}/gate-measurements?limit=${MEASUREMENTS}`)
          : Promise.resolve(known?.measurements ?? []),
      ]);
      if (generation !== page.generation) return;
      page.details.set(w.waveId, { at: Date.now(), state: w.state, changedAt, history, measurements });
      const card = page.cards.get(w.waveId);
      if (card && page.shown.has(w.waveId)) renderWave(card, page.shown.get(w.waveId));
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) throw err;
    }
  }

  /**
   * Whether a worker runs (GET /workers): without one the page would show waves that never move and scheduled starts
   * that never fire, with nothing saying why. A failed read keeps what is shown (the progress alarm covers outages).
   */
  async function refreshWorkers(generation) {
    if (page.workers && Date.now() - page.workers.at < WORKERS_MS) return;
    try {
      const roster = await call('GET', '/workers');
      if (generation !== page.generation) return;
      page.workers = { at: Date.now(), roster };
      renderWorkers();
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) throw err;
    }
  }

  function renderWorkers() {
    const roster = page.workers?.roster;
    const none = !!roster && roster.alive === 0;
    const last = none && roster.workers.length ? roster.workers[0] : null;
    $('workers-alert').textContent = none
      ? T.noWorker(last ? `${last.hostname} ${fmt.clock(last.lastSeenAt)}` : '')
      : '';
    $('workers-alert').hidden = !none;
  }

  /** The audit log is open to ops only: its answer also tells the page which role the key has. */
  async function refreshAudit(generation) {
    if (page.role !== null && page.role !== 'ops') return;
    const known = page.role;
    const members = page.members;
    const path = members ? `/audit?waveId=${members.waveId}&action=member.*&limit=50` : '/audit?kind=waves&limit=15';
    try {
      const audit = await call('GET', path);
      if (generation !== page.generation || members !== page.members) return;
      page.role = 'ops';
      page.audit = audit.items;
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 403) throw err;
      if (generation !== page.generation) return;
      page.role = err.problem.role ?? 'viewer';
    }
    renderAuditPane();
    if (known === null) {
      say(page.role === 'ops' ? T.connectedOps : T.connectedReader(page.role));
      for (const card of page.cards.values()) renderActions(card);
    }
  }

  // ---- rendering -----------------------------------------------------------------------------------------

  function renderWaves(waves) {
    $('no-waves').hidden = waves.length > 0;
    const seen = new Set();
    const list = $('waves');
    waves.forEach((wave, i) => {
      seen.add(wave.waveId);
      let card = page.cards.get(wave.waveId);
      if (!card) {
        card = $('wave-template').content.firstElementChild.cloneNode(true);
        card.dataset.waveId = wave.waveId;
        page.cards.set(wave.waveId, card);
      }
      // Moved only when out of place: moving a node would take the focus off its buttons.
      if (list.children[i] !== card) list.insertBefore(card, list.children[i] ?? null);
      // Never step back: the overview may be a little older than the view read right after a command.
      const shown = page.shown.get(wave.waveId);
      renderWave(card, shown && Date.parse(shown.asOf) > Date.parse(wave.asOf) ? shown : wave);
    });
    for (const [id, card] of page.cards) {
      if (!seen.has(id)) {
        card.remove();
        page.cards.delete(id);
        page.shown.delete(id);
        page.details.delete(id);
      }
    }
  }

  function renderWave(card, w) {
    page.shown.set(w.waveId, w);
    const field = (name) => card.querySelector(`[data-field="${name}"]`);
    const set = (name, text) => (field(name).textContent = text);
    card.dataset.state = w.state;
    set('name', w.name);
    set('state', T.state[w.state] ?? w.state);
    field('state').className = `state state-${w.state}`;
    set('statusText', statusLine(w));
    field('statusText').classList.toggle('stopped', w.state === 'paused' || w.state === 'halted');
    const percent = Math.floor(w.doneFraction * 1000) / 10;
    set('percent', T.percentDone(`${fmt.tenth(percent)} %`));
    field('bar').value = percent;
    set('done', T.doneOf(fmt.int(w.done), fmt.int(w.total)));
    for (const name of ['enabled', 'skipped', 'failed', 'pending', 'in_flight', 'cancelled']) {
      set(name, fmt.int(w.counts[name]));
    }
    // Once the wave is rolled back, what it enabled is history: the rollback line says what is closed again. (A
    // rollback line without it is support's rollback of single members: the wave's count still stands.)
    const rolledBack = w.state === 'rolling_back' || w.state === 'rolled_back'; // libs/domain isRolledBack
    const enabledLabel = rolledBack ? 'count.enabledBeforeRollback' : 'count.enabled';
    field('enabledLabel').dataset.i18n = enabledLabel;
    set('enabledLabel', T[enabledLabel]);
    // A wave that does not send has no current rate (the last minute's batches are history, not a rate).
    const current = w.rate.currentPerSecond;
    set('rate', current === null || current === undefined ? `— (${T.notSending})` : fmt.perSecond(current));
    set('target', fmt.perSecond(w.rate.targetPerSecond));
    set('eta', w.etaAt ? T.etaAt(duration(w.etaSeconds), fmt.clock(w.etaAt)) : T.noEta);
    const bake = w.step.bakeSecondsLeft ? T.baking(duration(w.step.bakeSecondsLeft)) : '';
    set('step', T.stepOf(w.step.index + 1, w.step.count, `${w.step.percent} %`) + bake);
    set('slow', slowLine(w));
    set(
      'reasons',
      [reasons(T.skippedReasons, w.skipReasons), reasons(T.failedReasons, w.failureReasons)]
        .filter(Boolean)
        .join(' · '),
    );
    const rb = w.rollback;
    set(
      'rollback',
      rb
        ? T.rollbackLine(
            fmt.int(rb.done),
            fmt.int(rb.total),
            fmt.int(rb.counts.rolled_back),
            fmt.int(rb.counts.conflict),
            fmt.int(rb.counts.failed),
          )
        : '',
    );
    const details = page.details.get(w.waveId);
    renderGates(field('gates'), w.gates, details?.measurements ?? []);
    renderChart(field, w, details?.history);
    const link = field('membersLink');
    link.href = `#members=${w.waveId}`;
    renderActions(card);
  }

  /** A wave paused on a refusal of a whole call (a 4xx): its sentence with the status and code; null for an outage. */
  function refusalLine(s, detail) {
    const status = detail?.status;
    if (typeof status !== 'number' || status < 400 || status >= 500) return null;
    const what = `${status}${typeof detail.code === 'string' ? ` ${detail.code}` : ''}`;
    return status === 401 || status === 403 ? s.refusedCredentials(what) : s.refused(what);
  }

  /** The wave's status in the page's language, from the machine-readable reason and the gates' verdicts. */
  function statusLine(w) {
    const s = T.status;
    const reason = w.statusReason ?? '';
    const step = w.step.count > 1 ? s.stepText(w.step.index + 1, w.step.count, `${w.step.percent} %`) : '';
    const verb = T.state[w.state] ?? w.state;
    if (reason.startsWith('gate:') || reason.startsWith('inconclusive:')) {
      const name = reason.slice(reason.indexOf(':') + 1);
      if (reason.startsWith('inconclusive:')) return s.stale(verb, name);
      const g = w.gates.find((x) => x.name === name);
      const why =
        g && g.value !== null && g.threshold !== null
          ? s.gateWhy(fmt.unit(g.value, g.unit), fmt.unit(g.threshold, g.unit))
          : '';
      return s.gate(verb, name, why);
    }
    switch (w.state) {
      case 'draft':
        return s.draft;
      case 'scheduled':
        return s.scheduled(w.startAt ? fmt.clock(w.startAt) : '');
      case 'running':
        return s.running(step);
      case 'paused':
        if (reason === 'ops') return s.pausedOps(step);
        if (reason === 'ramp_bake') {
          return s.baking(
            w.step.index + 1,
            w.step.count,
            w.step.bakeUntil ? fmt.clock(w.step.bakeUntil) : '',
            duration(w.step.bakeSecondsLeft ?? 0),
          );
        }
        if (reason === 'mailstore_unreachable' && w.statusDetail?.lastError === 'undecided_other_writer') {
          return s.undecided;
        }
        if (reason === 'mailstore_unreachable') return refusalLine(s, w.statusDetail) ?? s.unreachable;
        if (reason === 'outside_window') {
          const opens = w.statusDetail?.opensAt;
          return s.outsideWindow(typeof opens === 'string' ? fmt.clock(opens) : '') + step;
        }
        return s.other(verb, reason);
      case 'halted':
        return s.other(verb, reason);
      case 'completed':
      case 'cancelled':
      case 'rolling_back':
      case 'rolled_back':
        return s[w.state];
      default:
        return w.statusText;
    }
  }

  /** Why the wave is below its target, in words: the engine's pace, a Retry-After wait, the mailstore's limit. */
  function slowLine(w) {
    const p = w.pace;
    if (!p || !SENDING.includes(w.state)) return '';
    if (p.factor === null) return T.paceUnknown;
    if (!p.slowReasons.length) return '';
    const parts = p.slowReasons.map((r) => {
      if (r === 'retry_after') return T['slow.retry_after'](duration(p.retryAfterSeconds ?? 0));
      if (r === 'pace_after_errors') return T['slow.pace_after_errors'](fmt.percent(p.factor));
      return T['slow.mailstore_rate_limit'](fmt.perSecond(p.mailstoreRatePerSecond));
    });
    const ceiling = p.ceilingPerSecond === null ? '' : T.slowCeiling(fmt.perSecond(p.ceilingPerSecond));
    return `${T.slowIntro}${parts.join(T.slowJoin)}.${ceiling}`;
  }

  function renderGates(body, gates, measurements) {
    const rows = gates.map((g) => {
      const tr = document.createElement('tr');
      const value = fmt.unit(g.value, g.unit);
      // A prometheus gate has no threshold: its conditions decide.
      let limit =
        g.threshold === null
          ? (g.failureCondition ?? g.successCondition ?? g.query ?? T.gateQuery)
          : fmt.unit(g.threshold, g.unit);
      if (g.relativeTo) limit += T.gateRelative(fmt.num(g.relativeTo.factor), g.relativeTo.cohort);
      const cells = [
        g.name,
        T.gateState[g.status] ?? g.status,
        `${value} / ${limit}`,
        T.gateActionName[g.action] ?? g.action,
      ];
      for (const text of cells) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      tr.append(gateHistoryCell(g, measurements));
      tr.className = `gate-${g.status}`;
      tr.title = g.reason;
      return tr;
    });
    if (!rows.length) {
      const tr = document.createElement('tr');
      const td = document.createElement('td');
      td.colSpan = 5;
      td.textContent = T.noGates;
      tr.append(td);
      rows.push(tr);
    }
    body.replaceChildren(...rows);
  }

  /** The gate's measurements (GET /waves/{id}/gate-measurements: Prometheus gates keep each one), newest first. */
  function gateHistoryCell(g, measurements) {
    const td = document.createElement('td');
    td.className = 'gate-history';
    if (g.metric !== 'prometheus') {
      td.textContent = T.gateNoHistory;
      return td;
    }
    const mine = measurements.filter((m) => m.gate === g.name);
    if (!mine.length) {
      td.textContent = T.gateNoMeasurement;
      return td;
    }
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('viewBox', `0 0 ${MEASUREMENTS} 10`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('aria-hidden', 'true');
    const values = mine.map((m) => (Number.isFinite(m.value) ? m.value : 0));
    const max = Math.max(...values.map(Math.abs), Number.MIN_VALUE);
    // Oldest on the left.
    [...mine].reverse().forEach((m, i) => {
      const rect = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
      const v = Number.isFinite(m.value) ? Math.abs(m.value) : 0;
      const h = Math.max(0.5, (v / max) * 10);
      for (const [k, val] of Object.entries({ x: i + MEASUREMENTS - mine.length, y: 10 - h, width: 0.8, height: h })) {
        rect.setAttribute(k, String(val));
      }
      rect.setAttribute('class', `phase-${m.phase}`);
      svg.append(rect);
    });
    const shown = mine
      .slice(0, 5)
      .map((m) => `${m.value === null ? '—' : fmt.unit(m.value, g.unit)} (${T.phase[m.phase] ?? m.phase})`)
      .join(', ');
    const text = document.createElement('span');
    text.textContent = T.gateMeasurements(fmt.int(mine.length), shown, fmt.clock(mine[0].takenAt));
    td.append(svg, ' ', text);
    return td;
  }

  /** Accounts per second over the wave's whole run, from the API's history (one bar per sample). */
  function renderChart(field, w, history) {
    const svg = field('chart');
    if (!history) {
      svg.replaceChildren();
      field('chartCaption').textContent = T.chartLoading;
      return;
    }
    const samples = history.samples;
    const forward = samples.map((s) => s.forwardPerSecond);
    const rollback = samples.map((s) => s.rollbackPerSecond);
    const max = Math.max(1, w.rate.targetPerSecond, ...forward, ...rollback);
    // At least 30 slots: a young wave's few samples are bars, not blocks across the chart.
    const width = 300 / Math.max(30, samples.length);
    const shapes = [];
    const bar = (v, i, cls) => {
      const rect = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
      const h = (v / max) * 58;
      for (const [k, val] of Object.entries({ x: i * width, y: 60 - h, width: width * 0.8, height: h })) {
        rect.setAttribute(k, String(val));
      }
      if (cls) rect.setAttribute('class', cls);
      return rect;
    };
    forward.forEach((v, i) => v > 0 && shapes.push(bar(v, i, '')));
    rollback.forEach((v, i) => v > 0 && shapes.push(bar(v, i, 'rollback')));
    // The set rate, as a line across the chart: a bar below it is a slow bucket (the reason is above the chart).
    const line = document.createElementNS('http://www.w3.org/2000/svg', 'line');
    const y = 60 - (w.rate.targetPerSecond / max) * 58;
    for (const [k, val] of Object.entries({ x1: 0, x2: 300, y1: y, y2: y })) line.setAttribute(k, String(val));
    line.setAttribute('class', 'target');
    shapes.push(line);
    svg.replaceChildren(...shapes);
    let text;
    if (!samples.length || ![...forward, ...rollback].some((v) => v > 0)) {
      text = T.chartEmpty;
    } else {
      text = T.chartCaption(
        fmt.clock(history.from),
        duration(history.bucketSeconds),
        fmt.perSecond(forward.at(-1)),
        fmt.perSecond(Math.max(...forward)),
      );
      if (rollback.some((v) => v > 0)) text += T.chartRollback(fmt.perSecond(rollback.at(-1)));
    }
    svg.setAttribute('aria-label', text);
    field('chartCaption').textContent = text;
  }

  function renderActions(card) {
    const ops = page.role === 'ops';
    const state = card.dataset.state;
    for (const button of card.querySelectorAll('[data-action]')) {
      button.hidden = !ops || !ACTIONS[button.dataset.action].includes(state);
    }
    const form = card.querySelector('[data-form="set-rate"]');
    form.hidden = !ops || !ACTIONS['set-rate'].includes(state);
    const w = page.shown.get(card.dataset.waveId);
    if (w) form.elements.rate.placeholder = fmt.num(w.rate.targetPerSecond);
    card.querySelector('[data-field="membersLink"]').hidden = !ops;
  }

  function renderAuditPane() {
    const members = page.members;
    const name = members ? (page.shown.get(members.waveId)?.name ?? members.waveId) : '';
    $('audit-title').textContent = members ? T.auditMembersTitle(name) : T.auditTitle;
    $('audit-back').hidden = !members;
    if (!page.key) {
      $('audit-note').textContent = T.auditNeedsKey;
      $('audit').replaceChildren();
      return;
    }
    if (page.role !== null && page.role !== 'ops') {
      $('audit-note').textContent = T.auditOpsOnly(page.role);
      $('audit').replaceChildren();
      return;
    }
    if (page.audit === null) {
      $('audit-note').textContent = T.auditLoading;
      return;
    }
    $('audit-note').textContent = page.audit.length ? (members ? '' : T.auditWaveNote) : T.auditEmpty;
    const rows = page.audit.map((e) => {
      const li = document.createElement('li');
      const time = document.createElement('time');
      time.dateTime = e.at;
      time.textContent = fmt.clock(e.at);
      const wave = !members && e.waveId ? page.shown.get(e.waveId)?.name : undefined;
      const what = [e.action, wave && `«${wave}»`, e.login, e.reason && `“${e.reason}”`, e.ticket]
        .filter(Boolean)
        .join(' ');
      li.append(time, ` ${what} — ${e.actor}`);
      li.dataset.action = e.action;
      return li;
    });
    $('audit').replaceChildren(...rows);
  }

  function reasons(label, counts) {
    const parts = Object.entries(counts).map(
      ([reason, n]) => `${T.reason[reason] ?? reason.replaceAll('_', ' ')} ${fmt.int(n)}`,
    );
    return parts.length ? label(parts.join(', ')) : '';
  }

  function duration(seconds) {
    const s = Math.round(seconds);
    if (s < 60) return `${s} s`;
    if (s < 3600) return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
    return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  }

  // ---- commands ------------------------------------------------------------------------------------------

  async function command(card, action) {
    const id = card.dataset.waveId;
    const name = card.querySelector('[data-field="name"]').textContent;
    if (!window.confirm(T.confirm[action](name))) return;
    try {
      const result = await call('POST', `/waves/${id}/${action}`);
      say(T.commandDone(name, T.state[result.from] ?? result.from, T.state[result.state] ?? result.state, result.noop));
      alarm('');
      await afterCommand(card, id);
    } catch (err) {
      alarm(T.commandFailed(T[`action.${action}`], name, why(err)));
    }
  }

  /** PATCH /waves/{id}: the forward rate, or the rollback rate while rolling back. */
  async function setRate(card, form) {
    const id = card.dataset.waveId;
    const w = page.shown.get(id);
    const name = w?.name ?? id;
    const rate = Number(form.elements.rate.value);
    const from = fmt.perSecond(w?.rate.targetPerSecond ?? 0);
    if (!window.confirm(T.confirm.setRate(name, from, fmt.perSecond(rate)))) return;
    const field = w?.state === 'rolling_back' ? 'rollbackRatePerSecond' : 'ratePerSecond';
    try {
      await call('PATCH', `/waves/${id}`, { body: { [field]: rate } });
      say(T.rateSet(name, fmt.perSecond(rate)));
      alarm('');
      form.reset();
      await afterCommand(card, id);
    } catch (err) {
      alarm(T.commandFailed(T['action.setRate'], name, why(err)));
    }
  }

  async function afterCommand(card, id) {
    const generation = page.generation;
    const view = await call('GET', `/waves/${id}/progress`, { conditional: true });
    renderWave(card, view);
    await Promise.all([refreshDetails(view, generation, true), refreshAudit(generation)]);
  }

  // ---- wiring --------------------------------------------------------------------------------------------

  function followHash() {
    const m = /^#members=([0-9a-f-]{36})$/i.exec(window.location.hash);
    page.members = m ? { waveId: m[1] } : null;
    page.audit = null;
    renderAuditPane();
    if (page.key) void refreshAudit(page.generation).catch((err) => alarm(why(err)));
  }

  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const key = $('key').value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORE, key);
    say(T.checkingKey);
    start(key);
  });
  $('forget').addEventListener('click', () => {
    sessionStorage.removeItem(KEY_STORE);
    $('key').value = '';
    say(T.keyForgotten);
    start('');
  });
  $('lang').addEventListener('change', () => {
    window.localStorage.setItem(LANG_STORE, $('lang').value);
    setLanguage($('lang').value);
    if (page.updatedAt) $('updated').textContent = T.updated(fmt.clock(page.updatedAt));
  });
  $('waves').addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    if (button) void command(button.closest('article'), button.dataset.action);
  });
  $('waves').addEventListener('submit', (event) => {
    const form = event.target.closest('form[data-form="set-rate"]');
    if (!form) return;
    event.preventDefault();
    void setRate(form.closest('article'), form);
  });
  window.addEventListener('hashchange', followHash);

  setLanguage(pickLanguage());
  const m = /^#members=([0-9a-f-]{36})$/i.exec(window.location.hash);
  page.members = m ? { waveId: m[1] } : null;
  renderAuditPane();
  if (page.key) {
    $('key').value = page.key;
    start(page.key);
  }
})();
