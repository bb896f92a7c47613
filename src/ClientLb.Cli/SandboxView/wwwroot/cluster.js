// The sandbox's cluster side: state pushed by Server-Sent Events on every change; actions POSTed, the API's error shown.
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined && text !== null) e.textContent = String(text); return e; };
  const badge = (text, kind) => el('span', 'badge ' + (kind || ''), text);

  async function act(path, body) {
    $('error').textContent = '';
    const response = await fetch('/cluster/api/' + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!response.ok) {
      const answer = await response.json().catch(() => ({ error: response.statusText }));
      $('error').textContent = answer.error;
    }
  }

  // Each section is redrawn only when its part of the state changed, so a button is not replaced under the pointer.
  const drawn = {};
  function changed(section, value) {
    const text = JSON.stringify(value);
    if (drawn[section] === text) return false;
    drawn[section] = text;
    return true;
  }

  function draw(state) {
    if (changed('deployments', state.deployments)) drawDeployments(state);
    if (changed('pods', state.pods)) drawPods(state);
    if (changed('services', state.services)) drawServices(state);
    if (changed('agent', state.agent)) drawAgent(state.agent);
    drawTraffic(state);
  }

  function drawDeployments(state) {
    const deployments = $('deployments');
    deployments.replaceChildren(...state.deployments.map((d) => {
      const tr = el('tr');
      tr.dataset.deployment = d.namespace + '/' + d.name;
      const input = el('input'); input.type = 'number'; input.value = d.replicas; input.setAttribute('aria-label', 'replicas of ' + d.name);
      const button = el('button', null, 'Scale');
      button.onclick = () => {
        const replicas = Number(input.value);
        act('scale', { namespace: d.namespace, name: d.name, replicas: Number.isInteger(replicas) ? replicas : input.value });
      };
      const scale = el('td'); scale.append(input, ' ', button);
      tr.append(el('td', null, d.namespace + '/' + d.name), el('td', 'replicas', d.readyReplicas + ' / ' + d.replicas), scale);
      return tr;
    }));
  }

  function drawPods(state) {
    $('pods').replaceChildren(...state.pods.map((p) => {
      const tr = el('tr');
      tr.dataset.pod = p.namespace + '/' + p.name;
      const stateCell = el('td');
      stateCell.append(p.terminating ? badge('terminating', 'warn') : p.ready ? badge('ready', 'ok') : badge('not ready', 'bad'));
      if (p.failStatus) stateCell.append(badge('fails ' + p.failStatus, 'bad'));
      if (p.delayMs) stateCell.append(badge('slow ' + p.delayMs + ' ms', 'warn'));
      const button = el('button', 'delete', 'Delete');
      button.disabled = p.terminating;
      button.onclick = () => act('delete-pod', { namespace: p.namespace, name: p.name });
      const readiness = el('button', 'readiness', p.ready ? 'Make not ready' : 'Make ready');
      readiness.disabled = p.terminating;
      readiness.onclick = () => act('pod-ready', { namespace: p.namespace, name: p.name, ready: !p.ready });
      const failing = p.failStatus !== null && p.failStatus !== undefined;
      const slow = p.delayMs !== null && p.delayMs !== undefined;
      const fail = el('button', 'fail', failing ? 'Stop failing' : 'Fail (503)');
      fail.onclick = () => act('pod-fault', { namespace: p.namespace, name: p.name, failStatus: failing ? 0 : 503, delayMs: slow ? Number(p.delayMs) : 0 });
      const slowButton = el('button', 'slow', slow ? 'Stop slowness' : 'Slow (500 ms)');
      slowButton.onclick = () => act('pod-fault', { namespace: p.namespace, name: p.name, failStatus: failing ? Number(p.failStatus) : 0, delayMs: slow ? 0 : 500 });
      fail.disabled = slowButton.disabled = p.terminating;
      const actions = el('td'); actions.append(button, ' ', readiness, ' ', fail, ' ', slowButton);
      tr.append(el('td', null, p.namespace + '/' + p.name), el('td', null, p.ip || ''), el('td', null, p.node || ''), stateCell, actions);
      return tr;
    }));
  }

  function drawServices(state) {
    $('services').replaceChildren(...state.services.map((s) => {
      const box = el('div', 'svc');
      box.dataset.service = s.namespace + '/' + s.name;
      const ports = (s.ports || []).map((p) => (p.name ? p.name + ' ' : '') + p.port + '→' + p.targetPort + '/' + (p.protocol || 'TCP')).join(', ');
      box.append(el('h4', null, s.name + '.' + s.namespace + '  ' + s.type + ' ' + (s.clusterIP || '') + '  ' + ports));
      const dns = el('div', 'dns sub');
      for (const line of s.dns || []) dns.append(el('div', null, 'DNS ' + line));
      box.append(dns);
      for (const slice of s.slices) {
        const table = el('table');
        table.append(el('caption', 'sub', 'EndpointSlice ' + slice.name + ' ports ' + (slice.ports || []).map((p) => (p.name || '') + ':' + p.port).join(', ')));
        for (const e of slice.endpoints) {
          const tr = el('tr');
          tr.dataset.endpoint = (e.addresses || []).join(',');
          const conditions = el('td');
          conditions.append(e.ready ? badge('ready', 'ok') : badge('not ready', 'warn'));
          if (e.serving === false) conditions.append(badge('not serving', 'bad'));
          if (e.terminating) conditions.append(badge('terminating', 'warn'));
          tr.append(el('td', null, (e.addresses || []).join(', ')), el('td', null, e.pod || ''), conditions, el('td', null, [e.zone || '-', e.node || '-'].join(' / ')));
          table.append(tr);
        }
        box.append(table);
      }
      return box;
    }));
  }

  // VIP:port -> pod endpoints as the agent programmed them; a port whose backends differ from the EndpointSlices is stale.
  function drawAgent(agent) {
    const box = $('agent');
    if (!agent.running) {
      box.replaceChildren(badge('agent not running', 'off'), el('div', 'sub', agent.message));
      return;
    }
    const sync = agent.lastSync || {};
    const head = el('div', 'sub');
    head.append(badge('agent ' + agent.mode + (agent.dryRun ? ' (dry run: the kernel holds none of this)' : ''), 'ok'), ' ',
      sync.ok ? badge('last sync ok ' + sync.lastSuccess, 'ok') : badge('last sync failed: ' + (sync.error || 'no sync yet'), 'bad'),
      ' tables ' + (agent.tables || []).join(', ') + ' · ' + agent.url);
    const table = el('table');
    table.append(el('thead'));
    table.tHead.append(el('tr'));
    for (const h of ['service', 'VIP:port', 'state', 'endpoints (pod)']) table.tHead.rows[0].append(el('th', null, h));
    for (const p of agent.ports) {
      const tr = el('tr');
      tr.dataset.agentPort = p.service + ' ' + p.vip + ':' + p.port;
      const endpoints = el('td');
      if (p.endpoints.length === 0) endpoints.append(el('span', 'sub', 'none: ' + (p.emptyReason || 'connections are rejected')));
      for (const e of p.endpoints) endpoints.append(el('div', 'endpoint', e.endpoint + (e.pod ? ' (' + e.pod + ')' : '')));
      for (const e of p.leftOut || []) endpoints.append(el('div', 'left-out sub', 'left out by the agent: ' + e.endpoint + (e.pod ? ' (' + e.pod + ')' : '')));
      const stateCell = el('td');
      stateCell.append(p.stale ? badge('stale', 'bad') : badge('in sync', 'ok'));
      if (p.stale) stateCell.append(el('div', 'sub', p.staleReason));
      tr.append(el('td', null, p.service), el('td', null, p.vip + ':' + p.port + '/' + p.protocol + (p.name ? ' (' + p.name + ')' : '')), stateCell, endpoints);
      table.append(tr);
    }
    const notes = el('div', 'sub');
    for (const r of agent.rejected || []) notes.append(el('div', 'rejected', 'rejected ' + r.service + ': ' + r.reason));
    for (const d of agent.dropped || []) notes.append(el('div', 'dropped', 'endpoint left out: ' + d));
    box.replaceChildren(head, table, notes);
  }

  function drawTraffic(state) {
    const select = $('traffic-service');
    const names = state.services.map((s) => s.name + '.' + s.namespace);
    if (select.options.length !== names.length || names.some((n, i) => select.options[i].value !== n)) {
      const chosen = select.value;
      select.replaceChildren(...names.map((n) => { const o = el('option', null, n); o.value = n; return o; }));
      if (names.includes(chosen)) select.value = chosen;
    }
    const t = state.traffic;
    $('traffic-status').textContent = t.service
      ? 'sending ' + t.rate + '/s to ' + t.service + ': ' + t.sent + ' sent, ' + t.failed + ' failed' + (t.lastError ? ' (last error: ' + t.lastError + ')' : '')
      : 'stopped';
  }

  $('traffic-start').onclick = () => act('traffic', { service: $('traffic-service').value, rate: Number($('traffic-rate').value) });
  $('traffic-stop').onclick = () => act('traffic', { service: $('traffic-service').value, rate: 0 });

  const events = new EventSource('/cluster/api/events');
  events.addEventListener('cluster', (e) => draw(JSON.parse(e.data)));
  events.onopen = () => { $('connection').textContent = 'live'; $('connection').className = 'badge ok'; };
  events.onerror = () => { $('connection').textContent = 'reconnecting'; $('connection').className = 'badge warn'; };
})();
