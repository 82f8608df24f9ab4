// The incident-room status page: polls the progress views every 2 s (If-None-Match, so an unchanged view is a
// bodyless 304) and, with an ops key, offers the lifecycle commands that fit each wave's state.
'use strict';

(() => {
  const API = '/api/v1';
  const POLL_MS = 2000;
  const HISTORY = 60; // samples per wave for the chart: two minutes at one poll every 2 s
  const MIN_SAMPLE_MS = 1500;
  const KEY_STORE = 'reopen.apiKey';
  // What an ops key may ask of a wave in each state (libs/domain wave-state.ts: pause, resume, rollback rules).
  const ACTIONS = {
    pause: ['running'],
    resume: ['paused', 'halted'],
    rollback: ['running', 'paused', 'halted', 'completed', 'cancelled'],
  };
  const CONFIRM = {
    pause: (name) => `Pause wave "${name}"? No new mailstore call starts until it is resumed.`,
    resume: (name) => `Resume wave "${name}"? Accounts will be enabled again at the wave's rate.`,
    rollback: (name) =>
      `Roll back wave "${name}"? Every account it changed is restored to its prior state. This cannot be undone.`,
  };

  const $ = (id) => document.getElementById(id);
  const num = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });
  const page = {
    key: sessionStorage.getItem(KEY_STORE) ?? '',
    role: null, // 'ops' once the audit log answers; else the role a 403 names
    generation: 0, // bumped on every key change: answers for an older key are dropped
    timer: undefined,
    views: new Map(), // path -> { etag, body }
    history: new Map(), // waveId -> [{ t, done }], one sample per poll
    shown: new Map(), // waveId -> the newest view on screen
    cards: new Map(), // waveId -> article
  };

  class ApiError extends Error {
    constructor(status, problem) {
      super(problem.detail ?? `HTTP ${status}`);
      this.status = status;
      this.problem = problem;
    }
  }

  async function call(method, path, conditional = false) {
    const headers = { Authorization: `Bearer ${page.key}`, Accept: 'application/json' };
    const known = conditional ? page.views.get(path) : undefined;
    if (known) headers['If-None-Match'] = known.etag;
    const res = await fetch(API + path, { method, headers, cache: 'no-store' });
    if (res.status === 304 && known) return known.body;
    const text = await res.text();
    let body;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = { detail: text.slice(0, 200) };
    }
    if (!res.ok) throw new ApiError(res.status, body);
    const etag = res.headers.get('ETag');
    if (conditional && etag) page.views.set(path, { etag, body });
    return body;
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
    Object.assign(page, { key, role: null });
    page.views.clear();
    page.shown.clear();
    if (!key) page.history.clear(); // another key sees the same waves: their chart goes on
    for (const card of page.cards.values()) card.remove();
    page.cards.clear();
    $('audit').replaceChildren();
    $('audit-note').textContent = key ? 'Loading…' : 'Enter a key to see the audit log.';
    $('no-waves').hidden = true;
    $('updated').textContent = '';
    alarm('');
    if (key) void poll(page.generation);
  }

  async function poll(generation) {
    try {
      const overview = await call('GET', '/progress', true);
      if (generation !== page.generation) return;
      renderWaves(overview.waves);
      await refreshAudit(generation);
      if (generation !== page.generation) return;
      $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
      alarm('');
    } catch (err) {
      if (generation !== page.generation) return;
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
        // A refused key will not start working by itself: stop and ask for another one.
        sessionStorage.removeItem(KEY_STORE);
        page.generation += 1;
        say('');
        alarm(`Key refused: ${err.message}. Enter a valid API key.`);
        return;
      }
      alarm(`Cannot read progress (${err.message}); retrying every ${POLL_MS / 1000} s.`);
    }
    if (generation === page.generation) page.timer = setTimeout(() => void poll(generation), POLL_MS);
  }

  /** The audit log is open to ops only (brief): its answer also tells the page which role the key has. */
  async function refreshAudit(generation) {
    if (page.role !== null && page.role !== 'ops') return;
    const known = page.role;
    try {
      const audit = await call('GET', '/audit?limit=10&kind=commands');
      if (generation !== page.generation) return;
      page.role = 'ops';
      renderAudit(audit.items);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 403) throw err;
      if (generation !== page.generation) return;
      page.role = err.problem.role ?? 'viewer';
      $('audit-note').textContent = `The audit log is open to ops keys only (this key is ${page.role}).`;
    }
    if (known === null) {
      say(
        `Connected with ${page.role === 'ops' ? 'an ops key: wave controls are enabled' : `a ${page.role} key: read only`}.`,
      );
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
      const view = shown && Date.parse(shown.asOf) > Date.parse(wave.asOf) ? shown : wave;
      sample(view);
      renderWave(card, view);
    });
    for (const [id, card] of page.cards) {
      if (!seen.has(id)) {
        card.remove();
        page.cards.delete(id);
        page.history.delete(id);
        page.shown.delete(id);
      }
    }
  }

  function renderWave(card, w) {
    page.shown.set(w.waveId, w);
    const field = (name) => card.querySelector(`[data-field="${name}"]`);
    const set = (name, text) => (field(name).textContent = text);
    card.dataset.state = w.state;
    set('name', w.name);
    set('state', w.state.replace('_', ' '));
    field('state').className = `state state-${w.state}`;
    set('statusText', w.statusText);
    field('statusText').classList.toggle('stopped', w.state === 'paused' || w.state === 'halted');
    const percent = Math.floor(w.doneFraction * 1000) / 10;
    set('percent', `${num.format(percent)} % done`);
    field('bar').value = percent;
    set('done', `${num.format(w.done)} of ${num.format(w.total)}`);
    for (const name of ['enabled', 'skipped', 'failed', 'pending', 'in_flight', 'cancelled']) {
      set(name, num.format(w.counts[name]));
    }
    set('rate', `${num.format(w.rate.observedPerSecond)}/s (target ${num.format(w.rate.targetPerSecond)}/s)`);
    set('eta', w.etaSeconds === null ? '—' : `${duration(w.etaSeconds)} (${clock(w.etaAt)})`);
    const bake = w.step.bakeSecondsLeft ? `, baking ${duration(w.step.bakeSecondsLeft)}` : '';
    set('step', `${w.step.index + 1} of ${w.step.count} (${w.step.percent} %)${bake}`);
    set(
      'reasons',
      [reasons('Skipped', w.skipReasons), reasons('Failed', w.failureReasons)].filter(Boolean).join(' · '),
    );
    const rb = w.rollback;
    set(
      'rollback',
      rb
        ? `Rollback: ${num.format(rb.done)} of ${num.format(rb.total)} done; ${rb.counts.rolled_back} restored, ` +
            `${rb.counts.conflict} conflicts (changed since, left alone), ${rb.counts.failed} failed`
        : '',
    );
    renderGates(field('gates'), w.gates);
    renderChart(field, w.waveId);
    renderActions(card);
  }

  function renderGates(body, gates) {
    const rows = gates.map((g) => {
      const tr = document.createElement('tr');
      const value = g.value === null ? '—' : num.format(g.value);
      // A prometheus gate has no threshold: its conditions decide (shown in the row's title with its last reason).
      const limit = g.threshold === null ? (g.query ?? 'query') : num.format(g.threshold);
      for (const text of [g.name, g.status.replace('_', ' '), `${value} / ${limit}`, g.action]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      tr.className = `gate-${g.status}`;
      tr.title = g.reason;
      return tr;
    });
    if (!rows.length) {
      const tr = document.createElement('tr');
      const td = document.createElement('td');
      td.colSpan = 4;
      td.textContent = 'No gates on this wave.';
      tr.append(td);
      rows.push(tr);
    }
    body.replaceChildren(...rows);
  }

  function sample(w) {
    const samples = page.history.get(w.waveId) ?? [];
    const t = Date.now();
    // An early poll (a new key) would divide a batch's worth of accounts by a sliver of time: wait for the next.
    if (t - (samples.at(-1)?.t ?? 0) < MIN_SAMPLE_MS) return;
    samples.push({ t, done: w.done + (w.rollback?.done ?? 0) });
    if (samples.length > HISTORY) samples.shift();
    page.history.set(w.waveId, samples);
  }

  /** Accounts per minute between successive polls (forward and rollback alike). */
  function renderChart(field, waveId) {
    const samples = page.history.get(waveId) ?? [];
    const perMinute = samples
      .slice(1)
      .map((s, i) => (Math.max(0, s.done - samples[i].done) * 60000) / Math.max(1, s.t - samples[i].t));
    const max = Math.max(1, ...perMinute);
    const svg = field('chart');
    const width = 300 / (HISTORY - 1);
    const bars = perMinute.map((v, i) => {
      const rect = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
      const h = (v / max) * 58;
      const attrs = { x: (HISTORY - 1 - perMinute.length + i) * width, y: 60 - h, width: width * 0.8, height: h };
      for (const [k, val] of Object.entries(attrs)) rect.setAttribute(k, String(val));
      return rect;
    });
    svg.replaceChildren(...bars);
    const last = perMinute.at(-1);
    const text =
      last === undefined
        ? 'Accounts per minute: waiting for a second sample.'
        : `Accounts per minute over the last ${duration((samples[samples.length - 1].t - samples[0].t) / 1000)}: ` +
          `now ${num.format(last)}, peak ${num.format(Math.max(...perMinute))}.`;
    svg.setAttribute('aria-label', text);
    field('chartCaption').textContent = text;
  }

  function renderActions(card) {
    for (const button of card.querySelectorAll('[data-action]')) {
      button.hidden = page.role !== 'ops' || !ACTIONS[button.dataset.action].includes(card.dataset.state);
    }
  }

  function renderAudit(items) {
    $('audit-note').textContent = items.length ? '' : 'No audit events yet.';
    const rows = items.map((e) => {
      const li = document.createElement('li');
      const time = document.createElement('time');
      time.dateTime = e.at;
      time.textContent = clock(e.at);
      const what = [e.action, e.login, e.reason && `“${e.reason}”`, e.ticket].filter(Boolean).join(' ');
      li.append(time, ` ${what} — ${e.actor}`);
      return li;
    });
    $('audit').replaceChildren(...rows);
  }

  function reasons(label, counts) {
    const parts = Object.entries(counts).map(([reason, n]) => `${reason.replaceAll('_', ' ')} ${num.format(n)}`);
    return parts.length ? `${label}: ${parts.join(', ')}` : '';
  }

  function duration(seconds) {
    const s = Math.round(seconds);
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  }

  function clock(iso) {
    return iso ? new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }) : '—';
  }

  // ---- commands ------------------------------------------------------------------------------------------

  async function command(card, action) {
    const id = card.dataset.waveId;
    const name = card.querySelector('[data-field="name"]').textContent;
    if (!window.confirm(CONFIRM[action](name))) return;
    try {
      const result = await call('POST', `/waves/${id}/${action}`);
      say(`Wave "${name}": ${result.from} → ${result.state}${result.noop ? ' (nothing to do)' : ''}.`);
      alarm('');
      renderWave(card, await call('GET', `/waves/${id}/progress`, true));
    } catch (err) {
      alarm(`${action} of "${name}" failed: ${err.message}`);
    }
  }

  // ---- wiring --------------------------------------------------------------------------------------------

  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const key = $('key').value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORE, key);
    say('Checking the key…');
    start(key);
  });
  $('forget').addEventListener('click', () => {
    sessionStorage.removeItem(KEY_STORE);
    $('key').value = '';
    say('Key forgotten.');
    start('');
  });
  $('waves').addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    if (button) void command(button.closest('article'), button.dataset.action);
  });

  if (page.key) {
    $('key').value = page.key;
    start(page.key);
  }
})();
