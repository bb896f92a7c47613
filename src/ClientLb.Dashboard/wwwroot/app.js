// ClientLb dashboard: plain JS, no dependencies. Two Server-Sent Events streams (the service list, and the selected
// service's detail) push whole lists first and deltas after; the lists are virtualized (only visible rows are in the DOM).
(() => {
  'use strict';
  const ROW = 28;
  const CHART_BARS = 40;
  const $ = (id) => document.getElementById(id);
  const timing = (window.__clientlbDashboard = { firstRenderMs: null, openMs: null, firstEventMs: null, scriptMs: performance.now(), detailRenderMs: null, servicesEvents: 0, serviceEvents: 0 });
  const state = { services: new Map(), keys: [], visibleKeys: [], filter: '', selected: null, summary: null, endpoints: new Map(), authorities: [] };
  const collator = new Intl.Collator(undefined, { numeric: true });

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function badge(text, kind, title) {
    const b = el('span', 'badge ' + (kind || ''), text);
    if (title) b.title = title;
    return b;
  }
  function fmt(n, digits) { return n === null || n === undefined ? '' : Number(n).toFixed(digits); }

  // A list that keeps only the rows in view (plus a margin) in the DOM, so 50,000 rows cost what 40 do.
  class VirtualList {
    constructor(container, render) {
      this.container = container;
      this.render = render;
      this.items = [];
      this.spacer = el('div', 'spacer');
      this.rows = el('div', 'rows');
      container.append(this.spacer, this.rows);
      container.addEventListener('scroll', () => this.schedule(), { passive: true });
      new ResizeObserver(() => this.schedule()).observe(container);
    }
    set(items) {
      this.items = items;
      this.spacer.style.height = items.length * ROW + 'px';
      this.draw();
    }
    schedule() {
      if (this.pending) return;
      this.pending = true;
      requestAnimationFrame(() => { this.pending = false; this.draw(); });
    }
    draw() {
      const top = this.container.scrollTop;
      const height = this.container.clientHeight || 800;
      const start = Math.max(0, Math.floor(top / ROW) - 5);
      const end = Math.min(this.items.length, Math.ceil((top + height) / ROW) + 5);
      this.rows.style.transform = 'translateY(' + start * ROW + 'px)';
      const fragment = document.createDocumentFragment();
      for (let i = start; i < end; i++) fragment.append(this.render(this.items[i]));
      this.rows.replaceChildren(fragment);
    }
  }

  // ---- the service list ----
  const serviceList = new VirtualList($('services'), (key) => {
    const s = state.services.get(key);
    const row = el('div', 'row service service-cols' + (key === state.selected ? ' selected' : ''));
    row.dataset.service = key;
    row.setAttribute('role', 'option');
    const name = el('span', null, s.service + (s.schemes ? ' (' + s.schemes + ')' : ''));
    name.title = s.key;
    const source = el('span');
    source.append(s.sourceHealthy ? badge(s.sourceKind, 'ok')
      : badge(s.sourceKind + (s.stalenessSeconds > 0 ? ' stale ' + fmt(s.stalenessSeconds, 0) + 's' : ' failing'), 'bad', s.sourceError || ''));
    const rotation = el('span', 'num');
    rotation.append(el('span', null, s.inRotation + '/' + s.endpoints));
    if (s.ejected > 0) rotation.append(badge(s.ejected + ' ejected', 'bad'));
    if (s.noEndpointsReason) rotation.append(badge('none', 'bad', s.noEndpointsReason));
    row.append(name, source, rotation, el('span', 'num', fmt(s.picksPerSecond, 1)));
    return row;
  });
  $('services').addEventListener('click', (e) => {
    const row = e.target.closest('[data-service]');
    if (row) select(row.dataset.service);
  });
  $('filter').addEventListener('input', (e) => { state.filter = e.target.value.trim().toLowerCase(); refilter(); serviceList.set(state.visibleKeys); });

  function refilter() {
    const f = state.filter;
    state.visibleKeys = f ? state.keys.filter((k) => k.toLowerCase().includes(f)) : state.keys;
    $('service-count').textContent = (f ? state.visibleKeys.length + ' of ' : '') + state.keys.length + (state.keys.length === 1 ? ' service' : ' services');
  }

  function applyServices(delta) {
    timing.servicesEvents++;
    let membership = delta.full;
    if (delta.full) state.services.clear();
    for (const s of delta.upsert) {
      if (!state.services.has(s.key)) membership = true;
      state.services.set(s.key, s);
    }
    for (const key of delta.remove) { state.services.delete(key); membership = true; }
    if (membership) {
      state.keys = Array.from(state.services.keys()).sort();
      refilter();
      serviceList.set(state.visibleKeys);
    } else {
      serviceList.draw();
    }
    if (timing.firstRenderMs === null) {
      timing.firstRenderMs = performance.now();
      document.body.dataset.rendered = 'true';
    }
  }

  const connection = $('connection');
  const listStream = new EventSource('api/events');
  listStream.addEventListener('services', (e) => {
    if (timing.firstEventMs === null) timing.firstEventMs = performance.now();
    applyServices(JSON.parse(e.data));
  });
  listStream.onopen = () => {
    if (timing.openMs === null) timing.openMs = performance.now(); connection.textContent = 'live'; connection.className = 'badge ok'; };
  listStream.onerror = () => { connection.textContent = 'reconnecting'; connection.className = 'badge warn'; };

  // ---- one service's detail ----
  let detailStream = null;
  let selectedAt = 0;

  function select(key) {
    if (state.selected === key) return;
    state.selected = key;
    history.replaceState(null, '', '#' + encodeURIComponent(key));
    serviceList.draw();
    if (detailStream) detailStream.close();
    state.summary = null;
    state.endpoints.clear();
    state.authorities = [];
    timing.detailRenderMs = null;
    selectedAt = performance.now();
    $('detail-empty').hidden = true;
    $('detail').hidden = false;
    $('gone').hidden = true;
    $('detail-title').textContent = key;
    endpointList.set([]);
    drawChart();
    detailStream = new EventSource('api/events?list=false&service=' + encodeURIComponent(key));
    detailStream.addEventListener('service', (e) => applyDetail(JSON.parse(e.data)));
    detailStream.addEventListener('gone', (e) => {
      $('gone').textContent = JSON.parse(e.data).error;
      $('gone').hidden = false;
      detailStream.close();
    });
    detailStream.onerror = () => {
      if (detailStream.readyState === EventSource.CLOSED) {
        $('gone').textContent = 'The dashboard could not follow ' + key + ' (the app does not resolve it now).';
        $('gone').hidden = false;
      }
    };
  }

  function applyDetail(detail) {
    if (detail.key !== state.selected) return;
    timing.serviceEvents++;
    state.summary = detail.summary;
    const delta = detail.endpoints;
    let membership = delta.full;
    if (delta.full) state.endpoints.clear();
    for (const r of delta.upsert) {
      if (!state.endpoints.has(r.authority)) membership = true;
      state.endpoints.set(r.authority, r);
    }
    for (const a of delta.remove) { state.endpoints.delete(a); membership = true; }
    if (membership) {
      state.authorities = Array.from(state.endpoints.keys()).sort(collator.compare);
      endpointList.set(state.authorities);
    } else {
      endpointList.draw();
    }
    $('detail-title').textContent = (detail.summary.schemes ? detail.summary.schemes + '://' : '') + detail.summary.service;
    drawFacts(detail.summary, detail.facts);
    drawChart();
    if (timing.detailRenderMs === null) timing.detailRenderMs = performance.now() - selectedAt;
  }

  function drawFacts(s, f) {
    const facts = $('detail-facts');
    const rows = [];
    const add = (name, value, cls) => rows.push([name, value, cls]);
    add('source', s.sourceKind + ': ' + f.source);
    add('source status', s.sourceHealthy ? 'healthy' : 'failing ' + f.sourceFailures + ' time(s) in a row, serving endpoints ' + fmt(s.stalenessSeconds, 0) + ' s stale: ' + (s.sourceError || ''), s.sourceHealthy ? null : 'error');
    add('snapshot', 'version ' + f.snapshotVersion);
    add('policy', f.policy || '(none yet)');
    add('eligibility', f.selection + '; topology: ' + f.topology + (f.inPanic ? '; PANIC: all eligible endpoints used' : ''));
    add('endpoints', s.inRotation + ' in rotation, ' + f.eligible + ' eligible of ' + s.endpoints + (s.ejected ? ', ' + s.ejected + ' ejected' : ''));
    if (s.noEndpointsReason) add('no endpoints', s.noEndpointsReason, 'error');
    add('traffic', fmt(s.picksPerSecond, 1) + ' picks/s, ' + f.picks + ' picks, ' + f.outstanding + ' in flight');
    add('retry budget', f.retryBudgetEnabled
      ? f.budgetRetries + ' retries for ' + f.budgetRequests + ' requests in the last ' + fmt(f.budgetWindowSeconds, 0) + ' s (allows ' + f.budgetRatio + ' per request + ' + f.budgetMinRetriesPerSecond + '/s)'
      : 'off');
    const fragment = document.createDocumentFragment();
    for (const [name, value, cls] of rows) {
      fragment.append(el('dt', null, name));
      const dd = el('dd', cls, value);
      dd.dataset.fact = name;
      fragment.append(dd);
    }
    facts.replaceChildren(fragment);
    $('endpoint-count').textContent = s.endpoints + ' endpoints';
  }

  // Per-endpoint picks as SVG bars (the busiest CHART_BARS when there are more).
  function drawChart() {
    const svg = $('chart');
    const NS = 'http://www.w3.org/2000/svg';
    let rows = state.authorities.map((a) => state.endpoints.get(a));
    let note = null;
    if (rows.length > CHART_BARS) {
      note = 'the ' + CHART_BARS + ' busiest of ' + rows.length + ' endpoints';
      rows = rows.slice().sort((a, b) => b.picks - a.picks).slice(0, CHART_BARS).sort((a, b) => collator.compare(a.authority, b.authority));
    }
    const width = svg.clientWidth || 600;
    const labelWidth = 170, valueWidth = 120, barHeight = 18;
    const max = Math.max(1, ...rows.map((r) => r.picks));
    const top = note ? 18 : 4;
    svg.setAttribute('height', String(top + rows.length * barHeight + 4));
    const children = [];
    if (note) {
      const t = document.createElementNS(NS, 'text');
      t.setAttribute('x', '4'); t.setAttribute('y', '13'); t.textContent = note;
      children.push(t);
    }
    rows.forEach((r, i) => {
      const g = document.createElementNS(NS, 'g');
      g.setAttribute('transform', 'translate(0,' + (top + i * barHeight) + ')');
      g.dataset.endpoint = r.authority;
      g.dataset.picks = String(r.picks);
      const label = document.createElementNS(NS, 'text');
      label.setAttribute('x', '4'); label.setAttribute('y', '13'); label.textContent = r.authority;
      const bar = document.createElementNS(NS, 'rect');
      bar.setAttribute('class', 'bar' + (r.inRotation ? '' : ' out'));
      bar.setAttribute('x', String(labelWidth)); bar.setAttribute('y', '3'); bar.setAttribute('height', String(barHeight - 6));
      bar.setAttribute('width', String(Math.max(r.picks > 0 ? 1 : 0, (width - labelWidth - valueWidth) * r.picks / max)));
      const value = document.createElementNS(NS, 'text');
      value.setAttribute('x', String(width - valueWidth + 6)); value.setAttribute('y', '13');
      value.setAttribute('class', 'value');
      value.textContent = r.picks + ' (' + fmt(r.picksPerSecond, 1) + '/s)';
      g.append(label, bar, value);
      children.push(g);
    });
    svg.replaceChildren(...children);
  }

  const endpointList = new VirtualList($('endpoints'), (authority) => {
    const r = state.endpoints.get(authority);
    const row = el('div', 'row endpoint endpoint-cols');
    row.dataset.endpoint = authority;
    const name = el('span', 'authority', (r.scheme ? r.scheme + '://' : '') + authority);
    if (r.hostname) name.title = 'hostname ' + r.hostname;
    const conditions = el('span', 'conditions');
    conditions.append(r.ready ? badge('ready', 'ok') : badge('not ready', 'warn'));
    if (!r.serving) conditions.append(badge('not serving', 'bad'));
    if (r.terminating) conditions.append(badge('terminating', 'warn'));
    const where = el('span', null, [r.zone || '-', r.node || '-'].join(' / '));
    const stateCell = el('span', 'state ' + (r.inRotation ? 'state-in' : 'state-out'), r.inRotation ? 'in rotation' : r.reason);
    stateCell.title = r.ejectedUntil ? 'ejected until ' + new Date(r.ejectedUntil).toLocaleTimeString() + ' (' + r.ejections + ' ejection(s) in a row)' : (r.reason || '');
    row.append(name, conditions, where, stateCell,
      el('span', 'num', r.slowStartShare === null ? '' : Math.round(r.slowStartShare * 100) + '%'),
      el('span', 'num outstanding', r.outstanding),
      el('span', 'num', r.latencyMs === null ? '' : fmt(r.latencyMs, 1) + ' ms'),
      el('span', 'num picks', r.picks),
      el('span', 'num', fmt(r.picksPerSecond, 1)));
    return row;
  });

  window.addEventListener('resize', () => drawChart());
  if (location.hash.length > 1) select(decodeURIComponent(location.hash.slice(1)));
})();
