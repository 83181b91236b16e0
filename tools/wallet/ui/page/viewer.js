// The trip viewer's only script: unlock, trips by day, one trip's map and figures, the day's DTCs and maintenance, grants; everything through this server's /api.

const $ = (sel) => document.querySelector(sel);
const field = (name) => document.querySelector(`[data-field="${name}"]`);
const setText = (name, text) => {
  const el = field(name);
  if (el) el.textContent = text;
};

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** One call to this server; errors carry the server's code and message. */
async function api(path, body) {
  const init = body === undefined ? { method: 'GET' } : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  const res = await fetch(path, { ...init, credentials: 'same-origin', cache: 'no-store' });
  const json = await res.json().catch(() => null);
  if (res.ok && json !== null) return json;
  const e = (json && json.error) || {};
  if (res.status === 401 && e.code === 'LOCKED') showLocked('The session ended: unlock again.');
  throw new ApiError(res.status, e.code || `HTTP ${res.status}`, e.message || `the server answered ${res.status}`);
}

const el = (tag, text, cls) => {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
};
const pad = (n) => String(n).padStart(2, '0');
const isoDay = (compact) => `${compact.slice(0, 4)}-${compact.slice(4, 6)}-${compact.slice(6, 8)}`;
const utcTime = (ms) => {
  const d = new Date(ms);
  return Number.isFinite(ms) ? `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}` : '–';
};
const utcDateTime = (ms) => (Number.isFinite(ms) ? `${new Date(ms).toISOString().slice(0, 10)} ${utcTime(ms)} UTC` : '–');
/** A YYYYMMDDhhmmss key time as "YYYY-MM-DD hh:mm:ss". */
const keyTime = (v) => {
  const s = String(v);
  return /^\d{14}$/.test(s) ? `${isoDay(s)} ${s.slice(8, 10)}:${s.slice(10, 12)}:${s.slice(12, 14)}` : '–';
};
const dayMinus = (compact, days) => {
  const t = Date.UTC(Number(compact.slice(0, 4)), Number(compact.slice(4, 6)) - 1, Number(compact.slice(6, 8))) - days * 86400000;
  return new Date(t).toISOString().slice(0, 10);
};

function fillTable(selector, rows, emptyText, columns) {
  const tbody = $(`${selector} tbody`);
  tbody.replaceChildren();
  if (rows.length === 0) {
    const tr = el('tr');
    const td = el('td', emptyText);
    td.colSpan = columns;
    tr.append(td);
    tbody.append(tr);
    return;
  }
  for (const cells of rows) {
    const tr = el('tr');
    for (const c of cells) tr.append(c instanceof Node ? wrapCell(c) : el('td', String(c)));
    tbody.append(tr);
  }
}
const wrapCell = (node) => {
  const td = el('td');
  td.append(node);
  return td;
};

// ---- session ----

function showLocked(message) {
  $('#app').hidden = true;
  $('#lock').hidden = true;
  field('owner').hidden = true;
  $('#unlock-panel').hidden = false;
  setText('status', message || '');
  document.body.dataset.state = 'locked';
}

function showUnlocked(session) {
  $('#unlock-panel').hidden = true;
  $('#app').hidden = false;
  $('#lock').hidden = false;
  const owner = field('owner');
  owner.textContent = `Owner ${session.ownerAddress}`;
  owner.hidden = false;
  document.body.dataset.state = 'unlocked';
}

let today = '';

async function start() {
  const session = await api('/api/session');
  today = session.today;
  setText('walletPath', session.walletPath);
  setText('gateway', session.gatewayUrl);
  $('#to').value = isoDay(today);
  $('#from').value = dayMinus(today, 6);
  $('#grant-from').value = dayMinus(today, 6);
  $('#grant-to').value = isoDay(today);
  if (!session.unlocked) {
    showLocked('');
    $('#passphrase').focus();
    return;
  }
  showUnlocked(session);
  await afterUnlock();
}

async function afterUnlock() {
  await Promise.all([loadTrips(), loadGrants()]);
}

$('#unlock-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $('#passphrase');
  const button = $('#unlock-form button');
  setText('unlockError', '');
  if (input.value === '') {
    setText('unlockError', 'Type the wallet passphrase.');
    input.focus();
    return;
  }
  button.disabled = true;
  setText('status', 'Unlocking…');
  try {
    const session = await api('/api/unlock', { passphrase: input.value });
    input.value = '';
    showUnlocked(session);
    setText('status', 'Unlocked. Reading your trips…');
    $('#h-trips').scrollIntoView();
    await afterUnlock();
  } catch (err) {
    input.value = '';
    setText('status', '');
    setText('unlockError', err.code === 'WRONG_PASSPHRASE' ? 'Wrong passphrase: the wallet did not open. Try again.' : `Could not unlock: ${err.message}`);
    input.focus();
  } finally {
    button.disabled = false;
  }
});

$('#lock').addEventListener('click', async () => {
  try {
    await api('/api/lock', {});
  } catch {
    // Already locked on the server: show the locked page all the same.
  }
  $('#trip-days').replaceChildren();
  $('#trip-panel').hidden = true;
  showLocked('Locked: the keys were dropped from memory.');
  $('#passphrase').focus();
});

// ---- trips ----

let tripsSeq = 0;

async function loadTrips() {
  const seq = ++tripsSeq;
  const from = $('#from').value;
  const to = $('#to').value;
  setText('trips.error', '');
  document.body.dataset.trips = 'loading';
  setText('status', 'Reading and verifying trips…');
  let data;
  try {
    data = await api(`/api/trips?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
  } catch (err) {
    if (seq !== tripsSeq) return;
    setText('trips.error', `Could not read trips: ${err.message}`);
    setText('status', '');
    document.body.dataset.trips = 'error';
    return;
  }
  if (seq !== tripsSeq) return;
  setText('trips.count', String(data.totals.trips));
  setText('trips.distance', data.totals.text.distance);
  setText('trips.duration', data.totals.text.duration);
  const days = new Map();
  for (const t of data.trips) {
    const day = t.day || 'unknown';
    if (!days.has(day)) days.set(day, []);
    days.get(day).push(t);
  }
  const container = $('#trip-days');
  container.replaceChildren();
  if (data.trips.length === 0) container.append(el('p', `No trips between ${isoDay(data.range.from)} and ${isoDay(data.range.to)}.`));
  for (const [day, trips] of [...days.entries()].sort((a, b) => (a[0] < b[0] ? 1 : -1))) {
    const h = el('h3', day === 'unknown' ? 'Unknown day' : isoDay(day));
    const list = el('ul', undefined, 'trips');
    for (const t of trips) {
      const item = el('li');
      const button = el('button', undefined, 'trip');
      button.type = 'button';
      button.dataset.tripId = t.id;
      button.append(el('span', `${utcTime(t.start)}–${utcTime(t.end)} UTC`, 'when'));
      button.append(el('span', t.text.distance, 'distance'));
      button.append(el('span', t.text.duration, 'duration'));
      button.append(el('span', `max ${t.text.maxSpeed}`, 'max'));
      if (t.events > 0) button.append(el('span', `${t.events} harsh event${t.events === 1 ? '' : 's'}`, 'events'));
      button.setAttribute('aria-label', `Trip ${t.id}: ${utcTime(t.start)} to ${utcTime(t.end)} UTC, ${t.text.distance}, ${t.text.duration}, max ${t.text.maxSpeed}`);
      button.addEventListener('click', () => void openTrip(t.id));
      item.append(button);
      list.append(item);
    }
    container.append(h, list);
  }
  const rejected = data.rejected > 0 ? ` ${data.rejected} record(s) failed verification and are not shown.` : '';
  setText('status', `${data.totals.trips} trip(s) between ${isoDay(data.range.from)} and ${isoDay(data.range.to)}.${rejected}`);
  document.body.dataset.trips = 'ready';
}

$('#range-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  if ($('#from').value === '' || $('#to').value === '') {
    setText('trips.error', 'Choose both days.');
    return;
  }
  void loadTrips();
});

async function openTrip(id) {
  const panel = $('#trip-panel');
  document.body.dataset.trip = 'loading';
  setText('status', `Opening trip ${id}…`);
  let trip;
  try {
    panel.hidden = false;
    const width = Math.round(Math.min(1200, Math.max(320, $('#trip-map').clientWidth || 800)));
    trip = await api(`/api/trips/${encodeURIComponent(id)}?width=${width}`);
  } catch (err) {
    setText('status', `Could not open trip ${id}: ${err.message}`);
    panel.hidden = true;
    document.body.dataset.trip = 'error';
    return;
  }
  setText('trip.id', trip.id);
  setText('trip.start', utcDateTime(trip.start));
  setText('trip.end', utcDateTime(trip.end));
  setText('trip.distance', trip.text.distance);
  setText('trip.duration', trip.text.duration);
  setText('trip.maxSpeed', trip.text.maxSpeed);
  setText('trip.events', String(trip.events));
  setText('trip.inclusion', `origin signature checked; ${trip.inclusion}`);
  // The SVG is built by the server's renderTripSvg from decrypted numbers, every text escaped; it holds no script or link.
  const map = $('#trip-map');
  map.innerHTML = trip.svg;
  const svg = map.querySelector('svg');
  if (svg) {
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', `Map of trip ${trip.id}: ${trip.text.distance}, ${trip.text.duration}, max ${trip.text.maxSpeed}`);
  }
  fillTable('#events', trip.eventList.map((e) => [e.type, e.t === undefined ? '–' : utcDateTime(e.t), e.value === undefined ? '–' : String(Math.round(e.value * 10) / 10)]), 'No harsh driving events.', 3);
  panel.hidden = false;
  panel.focus();
  setText('status', `Trip ${trip.id} shown.`);
  document.body.dataset.trip = trip.id;
  await loadDayRecords(trip.day, trip.vehicleIndex);
}

async function loadDayRecords(day, vehicle) {
  setText('day.day', day ? isoDay(day) : '–');
  if (!day) return;
  try {
    const data = await api(`/api/day-records?day=${day}&vehicle=${vehicle}`);
    const list = (a) => (Array.isArray(a) && a.length > 0 ? a.join(', ') : '–');
    fillTable('#dtcs', data.dtc.map((r) => [keyTime(r.key.TIME), list(r.value.stored), list(r.value.pending), r.value.mil === true ? 'on' : r.value.mil === false ? 'off' : '–']), 'No trouble codes recorded that day.', 4);
    fillTable('#maintenance', data.maintenance.map((r) => [keyTime(r.key.TIME), String(r.value.shop ?? r.key.SHOP ?? '–'), String(r.value.work ?? '–'), r.value.mileage_km === undefined ? '–' : `${r.value.mileage_km} km`]), 'No maintenance recorded that day.', 4);
  } catch (err) {
    fillTable('#dtcs', [], `Could not read: ${err.message}`, 4);
    fillTable('#maintenance', [], `Could not read: ${err.message}`, 4);
  }
}

$('#close-trip').addEventListener('click', () => {
  $('#trip-panel').hidden = true;
  const back = document.querySelector(`button.trip[data-trip-id="${CSS.escape(document.body.dataset.trip || '')}"]`);
  if (back) back.focus();
});

// ---- grants ----

async function loadGrants() {
  let data;
  try {
    data = await api('/api/grants');
  } catch (err) {
    fillTable('#grants', [], err.code === 'CHAIN_UNKNOWN' ? 'No chain known: start the viewer with --chain URL to list and make grants.' : `Could not read grants: ${err.message}`, 6);
    return;
  }
  const rows = data.grants.map((g) => {
    const state = g.revokedAt !== 0 ? 'revoked' : g.active ? 'active' : 'expired';
    let action = '–';
    if (state === 'active') {
      const b = el('button', 'Revoke', 'danger');
      b.type = 'button';
      b.setAttribute('aria-label', `Revoke grant ${g.grantId.slice(0, 12)} to ${g.grantee}`);
      b.addEventListener('click', () => void revoke(g.grantId, b));
      action = b;
    }
    const id = el('code', `${g.grantId.slice(0, 12)}…`);
    id.title = g.grantId;
    return [id, el('code', g.grantee), `${isoDay(String(g.fromDay))} – ${isoDay(String(g.toDay))}`, g.formats.join(', '), state, action];
  });
  fillTable('#grants', rows, 'No grants yet.', 6);
  const tbody = $('#grants tbody');
  data.grants.forEach((g, i) => {
    if (tbody.children[i]) tbody.children[i].dataset.grantId = g.grantId;
  });
  document.body.dataset.grants = String(data.grants.length);
}

async function revoke(grantId, button) {
  button.disabled = true;
  setText('status', `Revoking grant ${grantId.slice(0, 12)}… (waiting for the chain)`);
  try {
    const r = await api(`/api/grants/${grantId}/revoke`, {});
    setText('status', `Grant ${grantId.slice(0, 12)}… revoked at chain height ${r.height ?? '?'}.`);
  } catch (err) {
    setText('status', `Could not revoke: ${err.message}`);
    button.disabled = false;
    return;
  }
  await loadGrants();
}

$('#grant-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  const formats = [...form.querySelectorAll('input[name="formats"]:checked')].map((c) => c.value);
  const body = {
    grantee: $('#grantee').value.trim(), rsaPublicKeyPem: $('#grantee-key').value, from: $('#grant-from').value, to: $('#grant-to').value,
    expires: $('#grant-expires').value, formats,
  };
  setText('grant.error', '');
  const missing = [['grantee', 'the grantee address'], ['rsaPublicKeyPem', "the grantee's RSA public key"], ['from', 'the first day'], ['to', 'the last day']].find(([k]) => body[k] === '');
  if (missing) {
    setText('grant.error', `Give ${missing[1]}.`);
    return;
  }
  if (formats.length === 0) {
    setText('grant.error', 'Choose at least one kind of record.');
    return;
  }
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  setText('status', 'Creating the grant: committing it on the chain, then re-wrapping record keys…');
  try {
    const g = await api('/api/grants', body);
    setText('status', `Grant ${g.grantId.slice(0, 12)}… committed at chain height ${g.height ?? '?'}: ${g.records} record(s) shared.`);
    document.body.dataset.lastGrant = g.grantId;
    $('#grantee').value = '';
    $('#grantee-key').value = '';
  } catch (err) {
    setText('grant.error', `Could not create the grant: ${err.message}`);
    setText('status', '');
    return;
  } finally {
    button.disabled = false;
  }
  await loadGrants();
});

start().catch((err) => {
  setText('status', `The trip viewer could not start: ${err.message}`);
});
