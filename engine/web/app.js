// blastd dashboard: blasts, a live funnel, stuck lists, recipients, and a form
// to create a blast. Plain JS, no build step; served embedded in blastd.
// Everything from the server reaches the page through textContent (el()),
// never as HTML.
'use strict';

const STAGES = ['sent', 'delivered', 'read', 'replied', 'closed'];
const STATUSES = ['pending', 'scheduled', 'sending', 'completed', 'paused', 'cancelled', 'failed'];
const KEY_STORE = 'blastd.apiKey';

// ---- DOM helpers ---------------------------------------------------------

// el('div', {class: 'x', onclick: f}, child, 'text', ...): children are nodes
// or strings (as text nodes); attributes are set with setAttribute.
function el(tag, attrs, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
    else if (k === 'value') n.value = v;
    else n.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return n;
}
const $ = (sel, root = document) => root.querySelector(sel);
function setText(node, text) { if (node) node.textContent = String(text); }

function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}
function fmtDuration(ms) {
  if (!(ms >= 0)) return '—';
  const s = Math.floor(ms / 1000);
  if (s < 60) return s + 's';
  const m = Math.floor(s / 60);
  if (m < 60) return m + 'm ' + (s % 60) + 's';
  const h = Math.floor(m / 60);
  if (h < 48) return h + 'h ' + (m % 60) + 'm';
  return Math.floor(h / 24) + 'd ' + (h % 24) + 'h';
}

// ---- API -------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || ('HTTP ' + status));
    this.status = status;
    this.code = e.code || 'http_' + status;
    this.details = e.details;
  }
}

// sessionStorage, not localStorage: the key lives as long as the tab, and is not
// left on the disk of a shared machine for the next person at the browser.
function apiKey() { return sessionStorage.getItem(KEY_STORE) || ''; }
function authHeaders() {
  const k = apiKey();
  return k ? { Authorization: 'Bearer ' + k } : {};
}

let keyPrompt = null;
// Shows the key dialog once, however many requests are waiting on it.
function askForKey() {
  if (keyPrompt) return keyPrompt;
  const dlg = $('#key-dialog');
  keyPrompt = new Promise(resolve => {
    const input = $('#key-input');
    input.value = '';
    const done = () => {
      dlg.removeEventListener('close', done);
      const v = input.value.trim();
      if (v) sessionStorage.setItem(KEY_STORE, v);
      keyPrompt = null;
      resolve(Boolean(v));
    };
    dlg.addEventListener('close', done);
    dlg.showModal();
  });
  return keyPrompt;
}

// fetch with the stored key; on 401 asks for a key and tries again. Returns
// the Response for 2xx/3xx, throws ApiError otherwise.
async function apiFetch(path, opts = {}) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(path, { ...opts, headers: { ...(opts.headers || {}), ...authHeaders() } });
    if (res.status === 401 && attempt < 3 && await askForKey()) continue;
    if (!res.ok) {
      let body = null;
      try { body = await res.json(); } catch (_) { /* not JSON: the status says it */ }
      throw new ApiError(res.status, body);
    }
    return res;
  }
}
async function api(path, opts) { return (await apiFetch(path, opts)).json(); }
async function apiPost(path, body) {
  return api(path, { method: 'POST', headers: { 'Content-Type': 'application/json' },
                     body: JSON.stringify(body) });
}

// The report stream. EventSource cannot send an Authorization header, so with
// a stored key the same text/event-stream is read through fetch instead.
function openReportStream(id, onReport, onState) {
  const url = '/api/blasts/' + encodeURIComponent(id) + '/report/stream';
  if (!apiKey()) {
    const es = new EventSource(url);
    es.addEventListener('report', e => onReport(JSON.parse(e.data)));
    es.onopen = () => onState('on');
    es.onerror = () => onState(es.readyState === EventSource.CLOSED ? 'off' : 'reconnecting');
    return () => es.close();
  }
  const ctl = new AbortController();
  (async () => {
    while (!ctl.signal.aborted) {
      try {
        const res = await apiFetch(url, { signal: ctl.signal });
        onState('on');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const data = block.split('\n').filter(l => l.startsWith('data:'))
              .map(l => l.slice(5).trimStart()).join('\n');
            if (data) onReport(JSON.parse(data));
          }
        }
      } catch (e) {
        if (ctl.signal.aborted) return;
      }
      onState('reconnecting');
      await new Promise(r => setTimeout(r, 2000));
    }
  })();
  return () => ctl.abort();
}

// The value of the top-level key `key` in a JSON object's text, exactly as
// sent (messageData is the provider's document byte for byte; JSON.parse and
// stringify would reformat it). A scan, not a search: the same key inside a
// nested payload or a string does not count.
function rawTopLevelValue(text, key) {
  let depth = 0, inStr = false, esc = false, strStart = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inStr) {
      if (esc) esc = false;
      else if (c === '\\') esc = true;
      else if (c === '"') {
        inStr = false;
        if (depth === 1 && JSON.parse(text.slice(strStart, i + 1)) === key) {
          let j = i + 1;
          while (/\s/.test(text[j])) j++;
          if (text[j] === ':') return valueAt(text, j + 1);
        }
      }
      continue;
    }
    if (c === '"') { inStr = true; strStart = i; }
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return null;
}
// The JSON value starting at `from` (after spaces), as text.
function valueAt(text, from) {
  let i = from;
  while (/\s/.test(text[i])) i++;
  const start = i;
  let depth = 0, inStr = false, esc = false;
  for (; i < text.length; i++) {
    const c = text[i];
    if (inStr) {
      if (esc) esc = false; else if (c === '\\') esc = true; else if (c === '"') inStr = false;
      if (!inStr && depth === 0) return text.slice(start, i + 1);
      continue;
    }
    if (c === '"') inStr = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      if (depth === 0) return text.slice(start, i).trim();
      depth--;
      if (depth === 0) return text.slice(start, i + 1);
    } else if (c === ',' && depth === 0) return text.slice(start, i).trim();
  }
  return text.slice(start).trim();
}

// ---- CSV (RFC 4180) ----------------------------------------------------------

// Rows of fields; quoted fields, "" for a quote, line breaks inside quotes,
// CRLF or LF, a BOM skipped. Throws Error('line N: ...') when a quote is never
// closed.
function parseCsv(text) {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const rows = [];
  let row = [], field = '', i = 0, line = 1, quoted = false, quoteLine = 0, wasQuoted = false;
  const endField = () => { row.push(field); field = ''; wasQuoted = false; };
  const endRow = () => {
    endField();
    if (!(row.length === 1 && row[0] === '' )) rows.push({ line: rowLine, fields: row });
    row = [];
  };
  let rowLine = 1;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false; i++; continue;
      }
      if (c === '\n') line++;
      field += c; i++; continue;
    }
    if (c === '"' && field === '' && !wasQuoted) { quoted = true; wasQuoted = true; quoteLine = line; i++; continue; }
    if (c === ',') { endField(); i++; continue; }
    if (c === '\r' && text[i + 1] === '\n') { i++; continue; }
    if (c === '\n') { endRow(); line++; rowLine = line; i++; continue; }
    field += c; i++;
  }
  if (quoted) throw new Error('line ' + quoteLine + ': a quoted field starting on this line is never closed');
  if (field !== '' || row.length) endRow();
  return rows;
}

// Recipients from pasted text or a CSV file: a CSV with a header naming a
// phone or phoneNumber column (name optional, other columns → vars), or else
// one phone number per line. Returns {recipients, lines} (lines[i] = the
// source line of recipients[i], to name it in errors).
function parseRecipients(text) {
  const rows = parseCsv(text);
  if (!rows.length) return { recipients: [], lines: [] };
  const header = rows[0].fields.map(h => h.trim());
  const phoneCol = header.findIndex(h => /^(phone|phonenumber)$/i.test(h));
  if (phoneCol < 0) {
    if (header.length > 1 || /[a-z]/i.test(header[0]))
      throw new Error('line 1: no phone column (name one "phone" or "phoneNumber"), ' +
                      'or paste one phone number per line');
    return { recipients: rows.map(r => r.fields[0].trim()).filter(Boolean),
             lines: rows.filter(r => r.fields[0].trim()).map(r => r.line) };
  }
  const nameCol = header.findIndex(h => /^name$/i.test(h));
  const recipients = [], lines = [];
  for (const r of rows.slice(1)) {
    if (r.fields.length !== header.length)
      throw new Error('line ' + r.line + ': ' + r.fields.length + ' fields, but the header has ' + header.length);
    const o = { phoneNumber: r.fields[phoneCol].trim() };
    if (nameCol >= 0 && r.fields[nameCol] !== '') o.name = r.fields[nameCol];
    const vars = {};
    header.forEach((h, i) => {
      if (i !== phoneCol && i !== nameCol && r.fields[i] !== '') vars[h] = r.fields[i];
    });
    if (Object.keys(vars).length) o.vars = vars;
    recipients.push(o);
    lines.push(r.line);
  }
  return { recipients, lines };
}

function renderTemplate(msg, r) {
  const rec = typeof r === 'string' ? { phoneNumber: r } : r;
  return msg.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_, k) => {
    if (k === 'name') return rec.name || '';
    if (k === 'phoneNumber') return rec.phoneNumber || '';
    if (k.startsWith('vars.')) return (rec.vars || {})[k.slice(5)] || '';
    return '';
  });
}

// ---- Views -------------------------------------------------------------------

const app = () => $('#app');
let cleanup = [];  // what the current view must stop (streams, timers)
function leaveView() { cleanup.forEach(f => f()); cleanup = []; }
function showError(e) {
  return el('p', { class: 'notice error', role: 'alert' },
            e instanceof ApiError ? e.code + ': ' + e.message : String(e.message || e));
}

function parseHash() {
  const h = location.hash.replace(/^#/, '') || '/';
  const [path, query] = h.split('?');
  return { parts: path.split('/').filter(Boolean), query: new URLSearchParams(query || '') };
}

let blastView = null;  // the blast page on screen, kept while only the recipient changes

async function route() {
  const { parts, query } = parseHash();
  document.querySelectorAll('[data-nav]').forEach(a => a.removeAttribute('aria-current'));
  if (parts[0] === 'blasts' && parts[1]) {
    const id = parts[1];
    const rid = parts[2] === 'recipients' ? decodeURIComponent(parts[3] || '') : null;
    if (!blastView || blastView.id !== id) {
      leaveView();
      blastView = await showBlast(id);
    }
    if (blastView) blastView.showRecipient(rid);
    return;
  }
  leaveView();
  blastView = null;
  if (parts[0] === 'new') { $('[data-nav=new]').setAttribute('aria-current', 'page'); return showCreate(); }
  $('[data-nav=list]').setAttribute('aria-current', 'page');
  return showList(query);
}

// The blast list with filters (kept in the URL: #/?tag=...&status=...).
async function showList(query) {
  const tag = query.get('tag') || '', status = query.get('status') || '';
  const form = el('form', { class: 'row', id: 'filters', onsubmit: e => {
      e.preventDefault();
      const q = new URLSearchParams();
      const t = $('#filter-tag').value.trim(), s = $('#filter-status').value;
      if (t) q.set('tag', t);
      if (s) q.set('status', s);
      location.hash = '#/' + (q.toString() ? '?' + q : '');
    } },
    el('input', { id: 'filter-tag', placeholder: 'tag', value: tag, 'aria-label': 'Filter by tag' }),
    el('select', { id: 'filter-status', 'aria-label': 'Filter by status',
                   onchange: e => e.target.form.requestSubmit() },
       el('option', { value: '' }, 'any status'),
       STATUSES.map(s => el('option', { value: s, selected: s === status }, s))),
    el('button', { type: 'submit' }, 'Filter'));
  const body = el('tbody');
  const table = el('div', { class: 'table-wrap' }, el('table', { id: 'blast-table' },
    el('thead', {}, el('tr', {}, el('th', {}, '#'), el('th', {}, 'Tag'), el('th', {}, 'Status'),
       el('th', { class: 'hide-narrow' }, 'Created'), el('th', { class: 'num' }, 'Recipients'),
       el('th', {}, 'Progress'))), body));
  app().replaceChildren(el('h1', {}, 'Blasts'), el('div', { class: 'card' }, form, table));
  const q = new URLSearchParams();
  if (tag) q.set('blastTag', tag);
  if (status) q.set('status', status);
  let list;
  try {
    list = (await api('/api/blasts' + (q.toString() ? '?' + q : ''))).items;
  } catch (e) { return app().append(showError(e)); }
  if (!list.length)
    body.append(el('tr', {}, el('td', { colspan: 6, class: 'muted' },
      tag || status ? 'No blast matches these filters.' : 'No blasts yet. ', 
      tag || status ? null : el('a', { href: '#/new' }, 'Create one'))));
  for (const b of list.slice().reverse()) {
    const bar = el('div', { style: 'width:0%' });
    const pct = el('span', { class: 'hint' }, '');
    body.append(el('tr', { 'data-blast': b.id },
      el('td', {}, el('a', { href: '#/blasts/' + b.id }, String(b.id))),
      el('td', {}, b.blastTag || el('span', { class: 'muted' }, '—')),
      el('td', {}, el('span', { class: 'badge ' + b.status }, b.status)),
      el('td', { class: 'hide-narrow' }, fmtTime(b.createdAt)),
      el('td', { class: 'num' }, b.totalRecipients.toLocaleString()),
      el('td', {}, el('div', { class: 'progress', title: 'sends with an outcome' }, bar), pct)));
    // Progress = recipients whose send has an outcome (not pending); the
    // report is O(1) on the server.
    api('/api/blasts/' + b.id + '/report').then(r => {
      const done = r.totalRecipients ? (r.totalRecipients - r.pending) / r.totalRecipients : 0;
      bar.style.width = (100 * done).toFixed(1) + '%';
      setText(pct, (100 * done).toFixed(0) + '% sent');
    }).catch(() => {});
  }
}

// The blast page: summary, live funnel, pending/failed, stuck lists, CSV, and
// the recipient panel (#/blasts/ID/recipients/RID).
async function showBlast(id) {
  let blast;
  try {
    blast = await api('/api/blasts/' + encodeURIComponent(id));
  } catch (e) {
    app().replaceChildren(el('h1', {}, 'Blast ' + id), showError(e));
    return null;
  }
  const base = '/api/blasts/' + blast.id;
  const summary = el('dl', { class: 'kv', id: 'blast-summary' });
  const renderSummary = b => summary.replaceChildren(
    el('dt', {}, 'Status'), el('dd', {}, el('span', { class: 'badge ' + b.status, id: 'blast-status' }, b.status)),
    el('dt', {}, 'Tag'), el('dd', {}, b.blastTag || '—'),
    el('dt', {}, 'Transport'), el('dd', {}, b.transport),
    el('dt', {}, 'Created'), el('dd', {}, fmtTime(b.createdAt)),
    el('dt', {}, 'Scheduled'), el('dd', {}, fmtTime(b.scheduledAt)),
    el('dt', {}, 'Recipients'), el('dd', {}, b.totalRecipients + (b.duplicatesDropped ? ' (' + b.duplicatesDropped + ' duplicates dropped)' : '')),
    el('dt', {}, 'Message'), el('dd', {}, el('pre', {}, b.message)));
  renderSummary(blast);

  const live = el('span', { class: 'live', id: 'live' }, 'connecting');
  const updated = el('span', { class: 'hint', id: 'report-time' }, '');
  const funnel = el('div', { class: 'funnel', id: 'funnel' });
  const rows = {};
  for (const s of STAGES) {
    const bar = el('div', { class: 'bar ' + s, style: 'width:0%' });
    const label = el('span', { class: 'label' },
      el('b', { class: 'reached' }, '0'), ' · ', el('span', { class: 'percent' }, '0.0'), '%');
    const stuck = s === 'closed' ? el('span', { class: 'stuck hint' }, 'end of funnel')
      : el('span', { class: 'stuck' }, el('button', { type: 'button', 'data-stuck': s,
          onclick: () => openStuck(s) }, el('span', { class: 'stuck-count' }, '0'), ' stuck'));
    rows[s] = { bar, label, stuck };
    funnel.append(el('div', { class: 'stage', 'data-stage': s },
      el('span', { class: 'name' }, s), el('div', { class: 'track' }, bar, label), stuck));
  }
  const stat = (id, name) => el('div', { class: 'stat' }, el('b', { id }, '0'), el('span', { class: 'hint' }, name));
  const side = el('div', { class: 'stats' }, stat('stat-total', 'recipients'), stat('stat-pending', 'pending'),
    stat('stat-failed', 'failed'), stat('stat-closed', 'closed'));

  let lastReport = null, refreshAt = 0;
  const applyReport = r => {
    lastReport = r;
    for (const f of r.funnel) {
      const row = rows[f.stage];
      if (!row) continue;
      row.bar.style.width = Math.min(100, f.percent) + '%';
      setText($('.reached', row.label), f.reached.toLocaleString());
      setText($('.percent', row.label), f.percent.toFixed(1));
      if (f.stuck !== null) setText($('.stuck-count', row.stuck), f.stuck.toLocaleString());
    }
    setText($('#stat-total'), r.totalRecipients.toLocaleString());
    setText($('#stat-pending'), r.pending.toLocaleString());
    setText($('#stat-failed'), r.failed.toLocaleString());
    setText($('#stat-closed'), (r.funnel.find(f => f.stage === 'closed') || { reached: 0 }).reached.toLocaleString());
    setText(updated, 'as of ' + fmtTime(r.calculatedAt));
    // The blast's status (sending → completed) is not in the report: look
    // again at most every 2 s while reports arrive.
    if (Date.now() > refreshAt) {
      refreshAt = Date.now() + 2000;
      api(base).then(renderSummary).catch(() => {});
    }
  };
  const close = openReportStream(blast.id, applyReport, state => {
    live.className = 'live ' + (state === 'on' ? 'on' : 'off');
    setText(live, state === 'on' ? 'live' : state);
  });
  cleanup.push(close);

  // Stuck lists: one stage, optionally only those in it for longer than
  // olderThan; pages of 50 through nextCursor.
  const stuckStage = el('select', { id: 'stuck-stage', 'aria-label': 'Stage' },
    STAGES.filter(s => s !== 'closed').map(s => el('option', { value: s }, s)));
  const olderThan = el('input', { id: 'stuck-older', placeholder: 'e.g. 90s, 15m, 24h', size: 12,
                                  'aria-label': 'In stage longer than' });
  const olderErr = el('div', { class: 'field-error', id: 'stuck-older-error' });
  const stuckBody = el('tbody', { id: 'stuck-rows' });
  const stuckInfo = el('p', { class: 'hint', id: 'stuck-info' }, 'Pick a stage, or a "stuck" button of the funnel.');
  const more = el('button', { type: 'button', id: 'stuck-more', hidden: true }, 'Load more');
  let cursor = null, shownStage = null;
  const loadStuck = async (reset) => {
    if (reset) { cursor = null; stuckBody.replaceChildren(); }
    const q = new URLSearchParams({ stage: stuckStage.value, stuck: 'true', limit: '50' });
    if (olderThan.value.trim()) q.set('olderThan', olderThan.value.trim());
    if (cursor) q.set('cursor', cursor);
    setText(olderErr, '');
    olderThan.classList.remove('invalid');
    let page;
    try {
      page = await api(base + '/recipients?' + q);
    } catch (e) {
      if (e.code === 'invalid_older_than') { setText(olderErr, e.message); olderThan.classList.add('invalid'); }
      else stuckInfo.replaceChildren(showError(e));
      return;
    }
    shownStage = stuckStage.value;
    const now = Date.now();
    for (const r of page.items) {
      const since = r.stageSince ? Date.parse(r.stageSince) : Date.parse(blast.createdAt);
      stuckBody.append(el('tr', { 'data-recipient': r.id },
        el('td', {}, el('a', { href: '#/blasts/' + blast.id + '/recipients/' + r.id }, String(r.id))),
        el('td', { class: 'mono' }, r.phoneNumber),
        el('td', {}, r.name || ''),
        el('td', {}, r.stage),
        el('td', { class: 'num', title: r.stageSince || '' }, fmtDuration(now - since)),
        el('td', { class: 'hide-narrow' }, r.sendStatus)));
    }
    cursor = page.nextCursor;
    more.hidden = !cursor;
    setText(stuckInfo, stuckBody.children.length + ' recipient(s) stuck at ' + shownStage +
            (olderThan.value.trim() ? ' for longer than ' + olderThan.value.trim() : '') +
            (cursor ? ' — more below' : ''));
  };
  more.addEventListener('click', () => loadStuck(false));
  const openStuck = s => {
    stuckStage.value = s;
    loadStuck(true);
    $('#stuck').scrollIntoView({ behavior: 'smooth', block: 'start' });
  };
  const stuckForm = el('form', { class: 'row', onsubmit: e => { e.preventDefault(); loadStuck(true); } },
    stuckStage, olderThan, el('button', { type: 'submit' }, 'Show stuck'));

  const csv = el('a', { href: base + '/recipients.csv', download: 'blast-' + blast.id + '-recipients.csv',
                        id: 'csv-link', class: 'button' }, 'Download CSV');
  csv.addEventListener('click', async e => {
    if (!apiKey()) return;  // a plain link works without a key
    e.preventDefault();     // with one, the header needs fetch
    const blob = await (await apiFetch(csv.href)).blob();
    const a = el('a', { href: URL.createObjectURL(blob), download: csv.getAttribute('download') });
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  });

  const recipientPanel = el('section', { class: 'card', id: 'recipient', hidden: true });
  app().replaceChildren(
    el('div', { class: 'row' }, el('a', { href: '#/' }, '← Blasts')),
    el('h1', {}, 'Blast ' + blast.id + (blast.blastTag ? ' · ' + blast.blastTag : '')),
    el('div', { class: 'grid' },
      el('section', { class: 'card' },
        el('div', { class: 'row', style: 'justify-content:space-between' }, el('h2', {}, 'Funnel'),
           el('span', {}, live, ' ', updated)),
        funnel),
      el('aside', { class: 'card' }, el('h2', {}, 'Outside the funnel'), side,
         el('p', {}, csv))),
    recipientPanel,
    el('section', { class: 'card', id: 'stuck' }, el('h2', {}, 'Stuck recipients'),
       stuckForm, olderErr, stuckInfo,
       el('div', { class: 'table-wrap' }, el('table', {},
         el('thead', {}, el('tr', {}, el('th', {}, '#'), el('th', {}, 'Phone'), el('th', {}, 'Name'),
            el('th', {}, 'Stage'), el('th', { class: 'num' }, 'In stage'), el('th', { class: 'hide-narrow' }, 'Send'))),
         stuckBody)), more),
    el('section', { class: 'card' }, el('h2', {}, 'Details'), summary));

  return {
    id: String(id),
    showRecipient: rid => showRecipient(blast, rid, recipientPanel, () => {
      if (shownStage) loadStuck(true);
    }),
  };
}

async function showRecipient(blast, rid, panel, onChange) {
  if (!rid) { panel.hidden = true; panel.replaceChildren(); delete panel.dataset.rid; return; }
  // Reloading the same recipient (after a mark) keeps it on screen meanwhile.
  if (panel.dataset.rid !== String(rid))
    panel.replaceChildren(el('p', { class: 'muted' }, 'Loading recipient ' + rid + '…'));
  panel.dataset.rid = rid;
  panel.hidden = false;
  const url = '/api/blasts/' + blast.id + '/recipients/' + encodeURIComponent(rid);
  let text, r;
  try {
    text = await (await apiFetch(url)).text();
    r = JSON.parse(text);
  } catch (e) { return panel.replaceChildren(showError(e)); }
  const raw = rawTopLevelValue(text, 'messageData');

  const times = STAGES.concat(['failed']).map(s => [s, r[s + 'At']]);
  const facts = el('dl', { class: 'kv' },
    el('dt', {}, 'Phone'), el('dd', { class: 'mono' }, r.phoneNumber),
    el('dt', {}, 'Name'), el('dd', {}, r.name || '—'),
    el('dt', {}, 'Stage'), el('dd', {}, el('b', { id: 'recipient-stage' }, r.stage),
                             r.stageSince ? ' since ' + fmtTime(r.stageSince) : ''),
    el('dt', {}, 'Send'), el('dd', {}, r.sendStatus + ' · ' + r.attempts + ' attempt(s)'),
    times.map(([s, t]) => [el('dt', {}, s), el('dd', {}, fmtTime(t))]),
    r.vars ? [el('dt', {}, 'Vars'), el('dd', {}, el('pre', {}, JSON.stringify(r.vars, null, 2)))] : null);

  const timeline = el('ol', { class: 'timeline', id: 'timeline' },
    r.events.map(ev => el('li', { 'data-seq': ev.seq },
      el('div', {}, el('b', {}, ev.type), ' · ', el('span', { class: 'badge' }, ev.source), ' · ',
         el('span', { class: 'hint' }, fmtTime(ev.time) + ' · seq ' + ev.seq),
         ev.messageId ? el('span', { class: 'hint mono' }, ' · ' + ev.messageId) : null),
      el('pre', { class: 'payload' }, ev.payload === null ? 'null' : JSON.stringify(ev.payload, null, 2)),
      webhookViewer(ev.payload))));

  const note = el('input', { id: 'status-note', placeholder: 'note (optional)', maxlength: 500 });
  const outcome = el('p', { class: 'hint', id: 'status-outcome', role: 'status' });
  const mark = stage => async () => {
    panel.querySelectorAll('button[data-mark]').forEach(b => { b.disabled = true; });
    try {
      const body = { stage };
      if (note.value.trim()) body.note = note.value.trim();
      const res = await apiPost(url + '/status', body);
      await showRecipient(blast, rid, panel, onChange);
      setText($('#status-outcome', panel), 'Marked ' + stage + ': ' + res.outcome + ' (was ' + res.previousStage + ')');
      onChange();
    } catch (e) {
      outcome.replaceChildren(showError(e));
      panel.querySelectorAll('button[data-mark]').forEach(b => { b.disabled = false; });
    }
  };
  panel.replaceChildren(
    el('div', { class: 'row', style: 'justify-content:space-between' },
       el('h2', {}, 'Recipient ' + r.id), el('a', { href: '#/blasts/' + blast.id }, 'Close ✕')),
    el('div', { class: 'grid2' },
      el('div', {}, facts,
         el('h3', {}, 'Mark'),
         el('div', { class: 'row' }, note,
            el('button', { type: 'button', 'data-mark': 'replied', onclick: mark('replied') }, 'Mark replied'),
            el('button', { type: 'button', class: 'primary', 'data-mark': 'closed', onclick: mark('closed') }, 'Mark closed')),
         outcome,
         el('h3', {}, 'messageData (exactly as the provider sent it)'),
         el('pre', { id: 'message-data' }, raw === null ? 'null' : raw)),
      el('div', {}, el('h3', {}, 'Timeline (' + r.events.length + ' events)'), timeline)));
  panel.scrollIntoView({ behavior: 'smooth', block: 'start' });
}

// A status read from a webhook names the logged request ("webhook": seq) instead of
// repeating it: a button fetches GET /api/webhooks/{seq} and shows it in place, the
// body parsed when it is JSON (as providers send it) and verbatim otherwise.
function webhookViewer(payload) {
  const seq = payload && payload.webhook;
  if (!Number.isSafeInteger(seq) || seq <= 0) return null;
  const out = el('div', { class: 'webhook', 'data-webhook': seq, hidden: true });
  const button = el('button', { type: 'button', class: 'small', 'data-webhook-seq': seq },
                    'Show webhook #' + seq);
  button.onclick = async () => {
    if (!out.hidden) { out.hidden = true; button.textContent = 'Show webhook #' + seq; return; }
    button.disabled = true;
    try {
      const w = await api('/api/webhooks/' + seq);
      let body = w.body;
      if (typeof body === 'string') {
        try { body = JSON.stringify(JSON.parse(body), null, 2); } catch (e) { /* not JSON: verbatim */ }
      } else if (w.bodyBase64 !== undefined) {
        body = '(not UTF-8; base64) ' + w.bodyBase64;
      }
      out.replaceChildren(
        el('p', { class: 'hint' }, w.method + ' ' + w.path + (w.query ? '?' + w.query : '') + ' · ' +
           w.status + ' · received ' + fmtTime(w.receivedAt)),
        el('pre', { class: 'webhook-body' }, body === undefined ? '' : body));
      button.textContent = 'Hide webhook #' + seq;
    } catch (e) {
      out.replaceChildren(showError(e));
    }
    out.hidden = false;
    button.disabled = false;
  };
  return el('div', {}, button, out);
}

// The create form. Errors from the API land next to the field they concern.
function showCreate() {
  const field = (id, label, input, hint) => el('div', { class: 'field' },
    el('label', { for: id }, label), input, hint ? el('div', { class: 'hint' }, hint) : null,
    el('div', { class: 'field-error', id: id + '-error', role: 'alert' }));
  const message = el('textarea', { id: 'message', name: 'message', rows: 4, required: true,
    placeholder: 'Hello {{name}}, your plan: {{vars.plan}}' });
  const recipients = el('textarea', { id: 'recipients', name: 'recipients', rows: 8,
    placeholder: 'phone,name,plan\n60123456789,Aisyah,gold\n\nor one number per line' });
  const file = el('input', { id: 'recipients-file', type: 'file', accept: '.csv,text/csv,text/plain' });
  const tag = el('input', { id: 'tag', name: 'tag', placeholder: 'nov-promo' });
  const schedule = el('input', { id: 'schedule', name: 'schedule', type: 'datetime-local' });
  const transport = el('input', { id: 'transport', name: 'transport', list: 'transports',
    placeholder: 'server default (sim)' });
  const preview = el('div', { class: 'hint', id: 'preview' });
  const formError = el('div', { class: 'field-error', id: 'form-error', role: 'alert' });
  const submit = el('button', { type: 'submit', class: 'primary', id: 'create' }, 'Create blast');
  let parsed = null;

  const setError = (id, msg) => {
    setText($('#' + id + '-error'), msg || '');
    const input = $('#' + id);
    if (input) input.classList.toggle('invalid', Boolean(msg));
  };
  const reparse = () => {
    setError('recipients', '');
    parsed = null;
    try {
      parsed = parseRecipients(recipients.value);
    } catch (e) { setError('recipients', e.message); }
    const n = parsed ? parsed.recipients.length : 0;
    const first = parsed && parsed.recipients[0];
    preview.replaceChildren(n + ' recipient(s)',
      first && message.value ? el('div', {}, 'First message: ', el('q', {}, renderTemplate(message.value, first))) : '');
  };
  recipients.addEventListener('input', reparse);
  message.addEventListener('input', reparse);
  file.addEventListener('change', async () => {
    if (!file.files[0]) return;
    recipients.value = await file.files[0].text();
    reparse();
  });

  const form = el('form', { id: 'create-form', class: 'card', novalidate: true, onsubmit: async e => {
      e.preventDefault();
      ['message', 'recipients', 'tag', 'schedule', 'transport', 'form'].forEach(f => setError(f, ''));
      reparse();
      if (!message.value.trim()) return setError('message', 'Write a message.');
      if (!parsed) return;
      if (!parsed.recipients.length) return setError('recipients', 'Paste or upload at least one recipient.');
      const body = { message: message.value, recipients: parsed.recipients };
      if (tag.value.trim()) body.blastTag = tag.value.trim();
      if (transport.value.trim()) body.transport = transport.value.trim();
      if (schedule.value) {
        const d = new Date(schedule.value);  // local time → ISO with a zone
        if (isNaN(d)) return setError('schedule', 'Not a date and time.');
        body.scheduledAt = d.toISOString();
      }
      submit.disabled = true;
      try {
        const b = await apiPost('/api/blasts', body);
        location.hash = '#/blasts/' + b.id;
      } catch (err) {
        submit.disabled = false;
        if (!(err instanceof ApiError)) return setError('form', String(err.message || err));
        const target = {
          invalid_message: 'message', message_too_long: 'message',
          invalid_recipients: 'recipients', too_many_recipients: 'recipients',
          invalid_scheduled_at: 'schedule', invalid_transport: 'transport', invalid: 'transport',
          invalid_blast_tag: 'tag',
        }[err.code] || 'form';
        let msg = err.message;
        if (err.details && target === 'recipients')
          msg += '\n' + err.details.map(d => 'line ' + parsed.lines[d.index] + ': ' +
            JSON.stringify(d.value && typeof d.value === 'object' ? d.value.phoneNumber : d.value) +
            ' — ' + d.reason).join('\n');
        setError(target, msg);
        const input = $('#' + target);
        if (input) input.focus();
      }
    } },
    field('message', 'Message', message, 'Variables: {{name}}, {{phoneNumber}}, {{vars.<column>}}'),
    field('recipients', 'Recipients', el('div', {}, recipients, el('div', { class: 'row' }, 'or a CSV file: ', file)),
          'CSV with a header: phone (or phoneNumber), name, other columns become vars. Or one number per line.'),
    preview,
    el('div', { class: 'grid2' },
      field('tag', 'Tag', tag),
      field('transport', 'Transport', transport, 'sim, manual, or a configured transport')),
    el('datalist', { id: 'transports' }, el('option', { value: 'sim' }), el('option', { value: 'manual' })),
    field('schedule', 'Schedule (optional, your local time)', schedule),
    el('p', {}, submit), formError);
  app().replaceChildren(el('h1', {}, 'New blast'), form);
}

document.addEventListener('DOMContentLoaded', () => {
  $('#key-forget').addEventListener('click', () => {
    sessionStorage.removeItem(KEY_STORE);
    $('#key-dialog').close();
  });
  window.addEventListener('hashchange', route);
  route();
});
