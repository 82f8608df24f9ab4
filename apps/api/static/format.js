// How the status page writes figures, for a language: numbers with the precision they need (0.05 stays 0.05, a 4 %
// error rate reads 4 %, never 0), each gate figure in its unit, 24-hour times with the zone. Loaded before app.js;
// status-page.spec.ts runs it in Node.
'use strict';

/**
 * @param {string} lang 'en' or 'fr'
 * @param {{ perSecond: (rate: string) => string }} strings the language's strings (i18n.js)
 * @param {string} [timeZone] the zone times are shown in (default: the browser's own)
 */
window.REOPEN_FORMAT = (lang, strings, timeZone) => {
  const small = new Intl.NumberFormat(lang, { maximumSignificantDigits: 3 });
  const whole = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });
  const tenth = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });
  const time = new Intl.DateTimeFormat(lang, {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
    timeZone,
  });
  /** Three significant digits below 1,000 (22.4, 0.05, 0.0004), whole numbers above (12,345). */
  const num = (v) => (Math.abs(v) >= 1000 ? whole : small).format(v);
  return {
    num,
    int: (v) => whole.format(v),
    tenth: (v) => tenth.format(v),
    /** A fraction as a percentage: 0.05 → 5 %. */
    percent: (fraction) => `${num(fraction * 100)} %`,
    perSecond: (v) => strings.perSecond(num(v)),
    clock: (iso) => (iso ? time.format(new Date(iso)) : '—'),
    /** A gate's value or threshold in its unit (progress' `unit`: fraction, ms, per_minute, number). */
    unit: (v, unit) => {
      if (v === null || v === undefined) return '—';
      if (unit === 'fraction') return `${num(v * 100)} %`;
      if (unit === 'ms') return `${num(v)} ms`;
      if (unit === 'per_minute') return `${num(v)}/min`;
      return num(v);
    },
  };
};
