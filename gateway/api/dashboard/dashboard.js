// The gateway dashboard's script: listens to /v1/events (Server-Sent Events) and writes each snapshot into the page; draws the rate sparkline as inline SVG.
// Hand-written, no build step, no dependency: the browser runs this file as served.

const SVG = 'http://www.w3.org/2000/svg';
const numberFormat = new Intl.NumberFormat('en-US');
let paused = false;
let lastSnapshot = null;

const field = (name) => document.querySelector(`[data-field="${name}"]`);

function setText(name, value) {
  const el = field(name);
  if (el !== null) el.textContent = value;
}

const count = (n) => (typeof n === 'number' ? numberFormat.format(n) : '–');

function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s ago` : `${Math.floor(m / 60)} h ${m % 60} min ago`;
}

/** Text for health, so state never rests on colour alone. */
function setState(name, ok, okText, badText) {
  const el = field(name);
  if (el === null) return;
  el.textContent = ok ? okText : badText;
  el.className = ok ? 'state-ok' : 'state-bad';
}

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  row.append(td);
  return td;
}

function replaceRows(tbody, rows, emptyText, columns) {
  tbody.replaceChildren();
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    cell(tr, emptyText).colSpan = columns;
    tbody.append(tr);
    return;
  }
  for (const r of rows) tbody.append(r);
}

function renderChain(chain, at) {
  const section = document.getElementById('h-chain').parentElement;
  const error = field('chain.error');
  if (chain === null) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  error.hidden = chain.ok;
  error.textContent = chain.ok ? '' : `Chain not reachable: ${chain.error}. Showing the last figures read.`;
  const view = chain.view;
  if (view === null) return;
  setText('chain.height', count(view.height));
  setText('chain.chainId', view.chainId);
  setText('chain.windowBlocks', String(view.windowBlocks));
  const time = field('chain.lastBlockTime');
  if (view.lastBlockTime === null) {
    time.textContent = 'none yet';
    time.removeAttribute('datetime');
    setText('chain.lastBlockAge', '');
  } else {
    const date = new Date(view.lastBlockTime);
    time.dateTime = date.toISOString();
    time.textContent = date.toLocaleTimeString('en-GB');
    setText('chain.lastBlockAge', `(${ago(at - view.lastBlockTime)})`);
  }
  const rows = view.validators.map((v) => {
    const tr = document.createElement('tr');
    cell(tr, v.address, 'address');
    cell(tr, count(v.power), 'num');
    cell(tr, v.lastSignedHeight === null ? 'none seen' : count(v.lastSignedHeight), 'num');
    cell(tr, `${count(v.missed)} / ${count(v.expected)}`, 'num');
    // Signed the latest block read: live. Otherwise say how far behind, in blocks.
    const live = v.lastSignedHeight !== null && v.lastSignedHeight >= view.height;
    const state = cell(tr, live ? 'signing' : v.lastSignedHeight === null ? 'not seen signing' : `${count(view.height - v.lastSignedHeight)} blocks behind`);
    state.className = live ? 'state-ok' : 'state-bad';
    return tr;
  });
  replaceRows(document.querySelector('#validators tbody'), rows, 'No validators.', 5);
}

function renderRate(samples) {
  const box = document.getElementById('rate-chart');
  const width = 300;
  const height = 80;
  const values = samples.map((s) => s.recordsPerSecond);
  const max = Math.max(1, ...values);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-labelledby', 'rate-caption rate-title');
  const title = document.createElementNS(SVG, 'title');
  title.id = 'rate-title';
  let summary = 'No samples yet.';
  if (values.length > 0) {
    const latest = values[values.length - 1];
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    summary = `Latest ${latest.toFixed(1)} records/s; over the last ${values.length} s: mean ${mean.toFixed(1)}, peak ${Math.max(...values).toFixed(1)}.`;
  }
  title.textContent = summary;
  svg.append(title);
  const axis = document.createElementNS(SVG, 'line');
  axis.setAttribute('class', 'axis');
  axis.setAttribute('x1', '0');
  axis.setAttribute('x2', String(width));
  axis.setAttribute('y1', String(height - 1));
  axis.setAttribute('y2', String(height - 1));
  svg.append(axis);
  if (values.length > 1) {
    const step = width / (values.length - 1);
    const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 6)).toFixed(1)}`);
    const area = document.createElementNS(SVG, 'polygon');
    area.setAttribute('class', 'area');
    area.setAttribute('points', `0,${height} ${points.join(' ')} ${width},${height}`);
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('class', 'line');
    line.setAttribute('points', points.join(' '));
    svg.append(area, line);
  }
  box.replaceChildren(svg);
  setText('rate.summary', summary);
}

function renderRejections(byReason) {
  const rows = Object.entries(byReason).sort(([a], [b]) => a.localeCompare(b)).map(([reason, n]) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = reason;
    tr.append(th);
    cell(tr, count(n), 'num');
    return tr;
  });
  replaceRows(document.querySelector('#rejections tbody'), rows, 'No reasons reported.', 2);
}

function renderKvDetail(detail) {
  const dl = field('kv.detail');
  dl.replaceChildren();
  for (const [key, value] of Object.entries(detail ?? {})) {
    const dt = document.createElement('dt');
    dt.textContent = key;
    const dd = document.createElement('dd');
    dd.textContent = typeof value === 'object' ? JSON.stringify(value) : String(value);
    dl.append(dt, dd);
  }
}

function render(s) {
  setText('gatewayId', s.gatewayId);
  const at = new Date(s.at);
  const stamp = field('at');
  stamp.dateTime = at.toISOString();
  stamp.textContent = at.toLocaleTimeString('en-GB');
  renderChain(s.chain, s.at);

  const i = s.ingest;
  setText('ingest.recordsPerSecond', i.recordsPerSecond.toFixed(1));
  for (const k of ['accepted', 'duplicates', 'conflicts', 'messages', 'rejectedMessages', 'storeFailures']) setText(`ingest.${k}`, count(i[k]));
  setState('ingest.connected', i.connected, 'connected', 'not connected');
  renderRate(s.rate);
  renderRejections(i.rejectedByReason);

  for (const k of ['pendingLeaves', 'sealed', 'anchored']) setText(`batches.${k}`, count(s.batches[k]));

  setText('kv.backend', s.kv.backend);
  setState('kv.ok', s.kv.ok, 'answering', 'down');
  renderKvDetail(s.kv.detail);

  const d = s.devices;
  setText('devices.brokerClients', d.brokerClients === null ? 'not known (external broker)' : count(d.brokerClients));
  setText('devices.recentDevices', d.recentDevices === null ? 'not known (external broker)' : count(d.recentDevices));
  if (d.windowSeconds > 0) setText('devices.window', d.windowSeconds % 60 === 0 ? `${d.windowSeconds / 60} min` : `${d.windowSeconds} s`);
  document.body.dataset.seq = String(s.seq);
}

function setFeed(state, text) {
  const p = field('feed').parentElement;
  p.classList.toggle('live', state === 'live');
  p.classList.toggle('down', state === 'down');
  // Only changes are announced (aria-live): rewriting the same text every second would be noise.
  if (field('feed').textContent !== text) setText('feed', text);
}

function connect() {
  const source = new EventSource('/v1/events');
  source.addEventListener('open', () => setFeed('live', 'Live: updated every second'));
  source.addEventListener('snapshot', (event) => {
    lastSnapshot = JSON.parse(event.data);
    if (!paused) render(lastSnapshot);
  });
  source.addEventListener('feed-error', (event) => {
    const body = JSON.parse(event.data);
    setFeed('down', `Gateway figures unavailable: ${body.error ?? body.message}`);
  });
  // EventSource reconnects by itself (after the server's retry delay); say so meanwhile.
  source.addEventListener('error', () => setFeed('down', source.readyState === EventSource.CLOSED ? 'Disconnected; reload the page' : 'Reconnecting…'));
}

document.getElementById('pause').addEventListener('click', (event) => {
  paused = !paused;
  const button = event.currentTarget;
  button.setAttribute('aria-pressed', String(paused));
  button.textContent = paused ? 'Resume updates' : 'Pause updates';
  setFeed('live', paused ? 'Paused: figures frozen' : 'Live: updated every second');
  if (!paused && lastSnapshot !== null) render(lastSnapshot);
});

connect();
