// The luminous-healing dashboard: renders the snapshots of the daemon's
// event stream (/api/v1/events). Read-only; no framework, no build step.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const SVG = 'http://www.w3.org/2000/svg';

  // el builds an element; text goes in through textContent only, so
  // nothing the daemon reports can become markup.
  function el(tag, props, ...kids) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') n.className = v;
      else if (k === 'text') n.textContent = v;
      else n.setAttribute(k, v);
    }
    for (const k of kids) if (k !== null && k !== undefined) n.append(k);
    return n;
  }
  function svg(tag, attrs) {
    const n = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    return n;
  }

  const isLoad = (r) => r.unit === '';
  function fmtValue(v, unit) {
    if (unit === '') return v.toFixed(2);
    return (v >= 10 ? v.toFixed(0) : v.toFixed(1)) + '%';
  }
  function fmtDur(sec) {
    if (sec > 0 && sec < 1) return Math.round(sec * 1000) + 'ms';
    sec = Math.max(0, Math.round(sec));
    const d = Math.floor(sec / 86400), h = Math.floor(sec % 86400 / 3600),
      m = Math.floor(sec % 3600 / 60), s = sec % 60;
    if (d) return d + 'd ' + h + 'h';
    if (h) return h + 'h ' + m + 'm';
    if (m) return m + 'm ' + s + 's';
    return s + 's';
  }
  function silencedMark(i) {
    return i.silenced ? ' [silenced by ' + i.silenced + (i.silence_effect === 'notify-only' ? ', notify-only' : '') + ']' : '';
  }
  function since(sec) {
    return sec < 1 ? 'just now' : fmtDur(sec) + ' ago';
  }
  function ago(iso) {
    return iso ? since((Date.now() - Date.parse(iso)) / 1000) : 'never';
  }
  function when(iso) {
    return iso ? new Date(iso).toLocaleString() : '';
  }
  function fmtBytes(n) {
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + ' ' + u[i];
  }
  // Relative times carry their timestamp and are refreshed every second.
  const rel = (iso, suffix) => el('time', { datetime: iso || '', 'data-rel': suffix || 'ago', title: when(iso), text: ago(iso) });

  function sparkline(points, threshold, unit) {
    const s = svg('svg', { class: 'spark', viewBox: '0 0 100 30', preserveAspectRatio: 'none', role: 'img' });
    if (!points || points.length < 2) return s;
    const t0 = points[0][0], t1 = points[points.length - 1][0];
    // Scale to the data so its shape shows; the bar above already puts
    // the value against its threshold. The threshold line is drawn when it
    // is near enough to the data to tell something.
    let lo = Infinity, hi = -Infinity;
    for (const [, v] of points) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const min = unit === '%' ? 2 : 0.2;
    if (hi - lo < min) { const mid = (hi + lo) / 2; lo = mid - min / 2; hi = mid + min / 2; }
    const near = threshold !== null && threshold <= hi + (hi - lo) && threshold >= lo - (hi - lo);
    if (near) { lo = Math.min(lo, threshold); hi = Math.max(hi, threshold); }
    const span = hi - lo;
    lo -= span * 0.08; hi += span * 0.08;
    const x = (t) => t1 === t0 ? 100 : (t - t0) / (t1 - t0) * 100;
    const y = (v) => 30 - (v - lo) / (hi - lo) * 30;
    const line = points.map(([t, v]) => x(t).toFixed(2) + ',' + y(v).toFixed(2)).join(' ');
    s.append(svg('polygon', { class: 'area', points: '0,30 ' + line + ' 100,30' }));
    s.append(svg('polyline', { class: 'line', points: line }));
    if (near) {
      const ty = y(threshold).toFixed(2);
      s.append(svg('line', { class: 'th', x1: 0, x2: 100, y1: ty, y2: ty }));
    }
    s.setAttribute('aria-label', points.length + ' samples over ' + fmtDur((t1 - t0) / 1000));
    return s;
  }

  function resourceCard(r, series) {
    const th = r.threshold;
    const pct = isLoad(r) ? (th ? r.value / th * 100 : 0) : r.value;
    const thPct = isLoad(r) ? 100 : th;
    const scale = isLoad(r) ? Math.max(100, pct * 1.1) : 100;
    const fill = el('div', { class: 'fill' });
    fill.style.width = Math.min(100, pct / scale * 100) + '%';
    const bar = el('div', { class: 'bar' }, fill);
    if (th !== null) {
      const mark = el('div', { class: 'mark', title: 'threshold ' + fmtValue(th, r.unit) });
      mark.style.left = Math.min(100, thPct / scale * 100) + '%';
      bar.append(mark);
    }
    const sev = th === null ? 'off' : r.severity;
    return el('article', { class: 'card resource ' + sev, 'data-id': r.id },
      el('div', { class: 'head' },
        el('span', { class: 'name', text: r.id }),
        el('span', { class: 'value', text: fmtValue(r.value, r.unit) })),
      bar,
      el('div', { class: 'of', text: th === null ? 'no threshold' : 'threshold ' + fmtValue(th, r.unit) +
        (r.severity !== 'ok' ? ' · ' + r.severity : '') }),
      sparkline(series, th, r.unit),
      el('div', { class: 'span', text: spanText(series) }));
  }

  // spanText says what stretch of time a sparkline covers.
  function spanText(points) {
    if (!points || points.length < 2) return 'history starts with the next checks';
    const t0 = points[0][0], t1 = points[points.length - 1][0];
    return 'last ' + fmtDur((t1 - t0) / 1000) + ' · ' + points.length + ' samples';
  }

  function table(head, rows, empty) {
    if (!rows.length) return el('p', { class: 'empty', text: empty });
    const tr = el('tr');
    for (const h of head) tr.append(el('th', { class: h.wide ? 'wide' : null, text: h.label || h }));
    return el('div', { class: 'scroll' }, el('table', null, el('thead', null, tr), el('tbody', null, ...rows)));
  }
  const td = (content, cls) => el('td', { class: cls }, content);

  function render(snap) {
    const st = snap.status;
    document.title = st.health + ' · ' + st.hostname + ' — luminous-healing';
    $('host').textContent = st.hostname;
    const health = $('health');
    health.className = 'badge ' + st.health;
    health.textContent = st.health;
    $('mode').textContent = st.dry_run ? 'dry-run' : st.healing_enabled ? 'healing on' : 'healing off';
    $('checked').replaceChildren('checked ', st.last_check ? rel(st.last_check) : 'not yet');
    const ov = $('overrides');
    ov.hidden = !(st.overrides && st.overrides.length);
    ov.textContent = ov.hidden ? '' : 'override: ' + st.overrides.join(', ');
    ov.title = 'set at run time with healingctl set; kept across restarts until a reload (healingctl reload) goes back to the configuration file';
    $('about').textContent = 'luminous-healingd ' + st.version + ' · ' + st.mode + ' mode · every ' +
      fmtDur(st.interval_usec / 1e6) + (st.systemd ? '' : ' · systemd unreachable') +
      (st.sample_error ? ' · sampling: ' + st.sample_error : '');

    const res = $('resources');
    if (st.resources.length) {
      res.replaceChildren(...st.resources.map((r) => resourceCard(r, snap.series[r.id])));
    }

    $('issue-count').textContent = st.issues.length ? '(' + st.issues.length + ')' : '';
    $('issues').replaceChildren(table(
      ['', 'issue', 'what', 'state', { label: 'action', wide: true }, { label: 'since', wide: true }],
      st.issues.map((i) => el('tr', { class: 'issue', 'data-id': i.id },
        td(el('span', { class: 'sev ' + i.severity, text: i.severity })),
        td(i.id + (i.synthetic ? ' (synthetic)' : '')),
        td(i.cause ? el('span', {}, i.message + silencedMark(i), el('div', { class: 'cause', text: 'because: ' + i.cause })) : i.message + silencedMark(i), 'msg'),
        td(el('span', { class: 'state-' + i.state, text: i.state + (i.attempts ? ' · ' + i.attempts + ' tries' : '') })),
        td(i.action, 'wide'),
        td(rel(i.since), 'wide num'))),
      'No active issues.'));

    $('predictions').replaceChildren(table(
      ['series', 'now', 'crosses', 'in', { label: 'trend', wide: true }, { label: 'confidence', wide: true }],
      st.predictions.map((p) => {
        const unit = p.kind === 'load' ? '' : '%';
        return el('tr', { class: 'prediction', 'data-id': p.series },
          td(p.series), td(fmtValue(p.value, unit), 'num'), td(fmtValue(p.threshold, unit), 'num'),
          td(el('span', { title: when(p.eta), text: fmtDur(p.time_to_threshold_usec / 1e6) }), 'num'),
          td((p.trend_per_hour >= 0 ? '+' : '') + p.trend_per_hour.toFixed(2) + (unit ? ' pt' : '') + '/h', 'wide num'),
          el('td', { class: 'wide num confidence',
            title: 'how sure the crossing time is, from how well the trend fits the samples it was fitted to',
            text: Math.round(p.confidence * 100) + '% sure, from ' + p.samples + ' samples' }));
      }),
      'Nothing is predicted to cross its threshold.'));

    $('actions').replaceChildren(table(
      ['when', 'action', 'on', 'outcome', { label: 'what happened', wide: true }],
      snap.actions.map((a) => el('tr', { class: 'action' },
        td(rel(a.time), 'num'),
        td(a.action + (a.dry_run ? ' (dry-run)' : '') + (a.repeats > 1 ? ' ×' + a.repeats : '')),
        td(a.target || a.issue || '—'),
        td(el('span', { class: 'outcome-' + a.outcome, text: a.outcome })),
        td(a.message + (a.freed_bytes ? ' · freed ' + fmtBytes(a.freed_bytes) : ''), 'wide msg'))),
      'No actions yet.'));

    $('breakers').replaceChildren(table(
      ['issue', 'failures', 'state'],
      // A breaker that only remembers a recent success holds nothing back.
      st.breakers.filter((b) => b.failures || b.given_up || b.next_attempt).map((b) => el('tr', { class: 'breaker', 'data-id': b.issue },
        td(b.issue), td(String(b.failures), 'num'),
        td(b.given_up ? el('span', { class: 'state-given-up', text: 'open: given up until reset' })
          : b.next_attempt ? el('span', null, 'backing off, next try ', rel(b.next_attempt, 'in'))
            : 'closed'))),
      'No breaker holds anything back.'));

    $('silences').replaceChildren(table(
      ['silence', 'state', 'scope', 'effect', 'until', { label: 'by', wide: true }, { label: 'reason', wide: true }],
      (st.silences || []).map((s) => el('tr', { class: 'silence', 'data-id': s.id },
        td(s.id + (s.window ? ' (' + s.window + ')' : '')),
        td(el('span', { class: s.active ? 'state-silenced' : 'state-waiting', text: s.active ? 'in force' : 'next ' + when(s.starts) })),
        td(s.scope), td(s.effect), td(rel(s.expires, 'in'), 'num'), td(s.author, 'wide'), td(s.reason, 'wide msg'))),
      'No silence: healing runs everywhere it applies.'));

    $('units').replaceChildren(table(
      ['unit', 'state'],
      st.units.map((u) => el('tr', { class: 'unit', 'data-id': u.name },
        td(u.name), td(el('span', { class: 'state-' + u.active_state, text: u.active_state + (u.sub_state ? ' (' + u.sub_state + ')' : '') +
          (u.stopped_on_purpose ? ', stopped on purpose ' + when(u.stopped_on_purpose) + '; not healed until started again' : '') })))),
      st.systemd ? 'No units are monitored.' : 'systemd is not reachable: units are not watched.'));

    // Text only: a probe's target and detail come from the configuration
    // and from the probed server's answer.
    $('probes').replaceChildren(table(
      ['unit', { label: 'target', wide: true }, 'every', 'last', 'failing'],
      (st.probes || []).map((p) => el('tr', { class: 'probe', 'data-id': p.unit },
        td(p.unit), td(p.target, 'wide'), td(fmtDur(p.interval_usec / 1e6), 'num'),
        td(!p.last_at ? 'not run yet' : el('span', { class: p.last_ok ? 'state-active' : 'state-failed' },
          (p.last_ok ? 'ok ' : 'failed: ' + p.last_detail + ', '), rel(p.last_at))),
        td(p.consecutive + '/' + p.failures + (p.action === 'none' ? ' (watch only)' : ''), 'num'))),
      'No health probe is configured ([[probe]] in the configuration; docs/probes.md).'));

    const n = Number(document.body.dataset.snapshots || 0) + 1;
    document.body.dataset.snapshots = String(n);
    // Milliseconds from navigation to the first live data on screen, for
    // the page's own benchmark.
    if (n === 1) document.body.dataset.liveMs = performance.now().toFixed(1);
  }

  function tick() {
    for (const t of document.querySelectorAll('time[data-rel]')) {
      const iso = t.getAttribute('datetime');
      if (!iso) continue;
      const d = (Date.parse(iso) - Date.now()) / 1000;
      t.textContent = t.dataset.rel === 'in' ? (d > 0 ? fmtDur(d) : 'now') : since(-d);
    }
  }

  function connected(up) {
    const c = $('conn');
    c.textContent = up ? 'live' : 'reconnecting…';
    c.classList.toggle('down', !up);
    document.body.classList.toggle('stale', !up);
  }

  // EventSource reconnects by itself after an error, with the server's
  // retry: delay; every new connection starts with a full snapshot.
  const es = new EventSource('/api/v1/events');
  es.addEventListener('snapshot', (e) => {
    connected(true);
    render(JSON.parse(e.data));
  });
  es.addEventListener('error', () => connected(false));
  setInterval(tick, 1000);
})();
