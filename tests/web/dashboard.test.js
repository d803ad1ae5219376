// The dashboard in a real browser: Debian's headless Chromium driven by
// playwright-core against a blastd started here on a fresh data folder, with
// the simulated transport `sim` sending and producing statuses over ~10 s.
//
//   node dashboard.test.js --blastd build/blastd --wsapme-sim build/wsapme-sim --out build/web-artifacts
//
// Creates a blast through the form (after a rejected attempt whose error must
// show next to the recipients field), watches the funnel change without a
// reload, opens a stuck list (with the olderThan filter), marks a recipient
// closed and sees the funnel's closed count move, downloads the CSV and checks
// its rows, asks for an API key on a 401, and renders on a phone-sized screen.
// Then, against a second blastd sending through the wsapme plugin to
// wsapme-sim (--wsapme-sim), shows the logged webhook behind a "read" status.
// Screenshots go to --out. Any mismatch fails with a message saying what.
'use strict';

const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.error('web.dashboard: playwright-core is missing: run `npm ci` in tests/web ' +
                '(tools/install-deps.sh does)');
  process.exit(1);
}

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const BLASTD = path.resolve(args.blastd || 'build/blastd');
const WSAPME_SIM = path.resolve(args['wsapme-sim'] || 'build/wsapme-sim');
const OUT = path.resolve(args.out || 'build/web-artifacts');
const CHROMIUM = args.chromium || '/usr/bin/chromium';
const RECIPIENTS = 30;

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
}
const sleep = ms => new Promise(r => setTimeout(r, ms));

// Starts `exe`; resolves with {proc, base, stderr} once it prints "listening on <base>".
function startServer(name, exe, args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(exe, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    const timer = setTimeout(() => reject(new Error(name + ' did not print its address within 15 s: ' + err)), 15000);
    proc.stderr.on('data', d => { err += d; });
    proc.stdout.on('data', d => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve({ proc, base: m[1], stderr: () => err }); }
    });
    proc.on('exit', code => { clearTimeout(timer); reject(new Error(name + ' exited with ' + code + ': ' + err)); });
  });
}

// blastd on a free port (unless `listen` says otherwise).
function startBlastd(dataDir, extraArgs = [], listen = '127.0.0.1:0') {
  return startServer('blastd', BLASTD,
                     ['--data-dir', dataDir, '--listen', listen, '--log-level', 'warn', ...extraArgs]);
}

// The WSAPME gateway simulator on a free port.
function startWsapmeSim(args) {
  return startServer('wsapme-sim', WSAPME_SIM, ['--port', '0', ...args]);
}

// A port free a moment ago, for a blastd whose address the gateway must know before it starts.
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

// SIGTERM, then up to 5 s for the exit (blastd flushes its log on SIGTERM: its folder may be
// removed once it is gone).
async function stop(proc) {
  if (!proc || proc.exitCode !== null) return;
  const exited = new Promise(r => proc.once('exit', r));
  proc.kill('SIGTERM');
  await Promise.race([exited, sleep(5000)]);
}

// The webhook behind a status: a blastd sending through the wsapme plugin to the WSAPME
// simulator, which posts signed status webhooks back. The recipient's timeline offers the
// logged webhook of its "read" event, and shows it (request line, body) on a click.
async function webhookViewer(browser, pageErrors) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'blastd-web-wh-'));
  const port = await freePort();
  let sim, server;
  try {
    sim = await startWsapmeSim(['--token', 'T0k', '--seed', '7', '--webhook-secret', 's3cret',
      '--webhook-url', 'http://127.0.0.1:' + port + '/webhooks/wa', '--deliver-rate', '1',
      '--read-rate', '1', '--reply-rate', '0', '--delay-ms', '20..60']);
    const cfg = path.join(dataDir, 'blastd.json');
    fs.writeFileSync(cfg, JSON.stringify({ defaultTransport: 'wa', transports: { wa: {
      plugin: 'wsapme', baseUrl: sim.base, token: 'T0k', device: '5850', webhookSecret: 's3cret' } } }));
    server = await startBlastd(path.join(dataDir, 'data'), ['--config', cfg], '127.0.0.1:' + port);
    const base = server.base;
    const created = await fetch(base + '/api/blasts', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ message: 'Hello', transport: 'wa', recipients: [{ phoneNumber: '60123000001' }] }) });
    check(created.status === 201, 'blast on wa created, got ' + created.status);
    const blast = (await created.json()).id;
    const readEvent = await waitFor(async () => {
      const r = await (await fetch(base + '/api/blasts/' + blast + '/recipients/1')).json();
      return (r.events || []).find(e => e.payload && e.payload.stage === 'read' && Number.isInteger(e.payload.webhook));
    }, 'a read status from a webhook');
    const seq = readEvent.payload.webhook;
    const messageId = readEvent.messageId;

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', e => pageErrors.push(e.message));
    page.setDefaultTimeout(15000);
    await page.goto(base + '/#/blasts/' + blast + '/recipients/1');
    const button = 'button[data-webhook-seq="' + seq + '"]';
    await page.waitForSelector(button);
    check(await page.isHidden('.webhook[data-webhook="' + seq + '"]'), 'the webhook is not shown before the click');
    await page.click(button);
    const body = await page.waitForSelector('.webhook[data-webhook="' + seq + '"] pre.webhook-body');
    const text = await body.textContent();
    const logged = await (await fetch(base + '/api/webhooks/' + seq)).json();
    check(JSON.stringify(JSON.parse(text)) === JSON.stringify(JSON.parse(logged.body)),
          'the page shows the logged body, parsed: ' + text.slice(0, 200));
    check(text.includes('message.status') && (!messageId || text.includes(messageId)),
          'the body is the message.status webhook of ' + messageId + ': ' + text.slice(0, 200));
    const line = await page.textContent('.webhook[data-webhook="' + seq + '"] p.hint');
    check(line.startsWith('POST /webhooks/wa') && line.includes('accepted'), 'the request line and outcome: ' + line);
    check((await page.textContent(button)) === 'Hide webhook #' + seq, 'the button now hides it');
    await page.screenshot({ path: path.join(OUT, 'recipient-webhook.png'), fullPage: true });
    await page.click(button);
    check(await page.isHidden('.webhook[data-webhook="' + seq + '"]'), 'a second click hides it');
    await page.close();
  } catch (e) {
    if (server) console.error('blastd (webhooks) stderr (tail): ' + server.stderr().slice(-2000));
    throw e;
  } finally {
    await stop(server && server.proc);
    await stop(sim && sim.proc);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

function csvFile(rows) {
  return 'phone,name,plan\r\n' + rows.map(r => r.join(',')).join('\r\n') + '\r\n';
}

// Funnel numbers as the page shows them: {sent: {reached, stuck}, ...}.
async function funnelOnPage(page) {
  return page.$$eval('#funnel .stage', rows => Object.fromEntries(rows.map(r => [r.dataset.stage, {
    reached: Number(r.querySelector('.reached').textContent.replace(/[^\d]/g, '')),
    percent: r.querySelector('.percent').textContent,
    stuck: r.querySelector('.stuck-count') ? Number(r.querySelector('.stuck-count').textContent.replace(/[^\d]/g, '')) : null,
  }])));
}

// Polls `fn` until it returns a truthy value, or fails with `what`.
async function waitFor(fn, what, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await sleep(100);
  }
  throw new Error('timed out after ' + timeoutMs + ' ms waiting for ' + what);
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  for (const f of fs.readdirSync(OUT)) fs.rmSync(path.join(OUT, f), { force: true, recursive: true });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'blastd-web-'));
  const server = await startBlastd(dataDir);
  const base = server.base;
  let browser, page;
  const pageErrors = [];
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // As root Chromium needs --no-sandbox; the others keep it off the
      // (closed) network at start-up.
      args: [...(process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : []), '--disable-gpu',
             '--disable-background-networking', '--disable-component-update', '--disable-sync',
             '--no-first-run', '--disable-quic'],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('pageerror', e => pageErrors.push(e.message));
    // Answers like the 422 below are logged by Chromium as "Failed to load
    // resource"; they are expected. Any other console error is a bug.
    page.on('console', m => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
        pageErrors.push('console: ' + m.text());
    });
    page.setDefaultTimeout(15000);

    // 1. The empty list, then the form.
    await page.goto(base + '/');
    await page.waitForSelector('#blast-table');
    await page.waitForSelector('text=No blasts yet');
    await page.click('a[data-nav=new]');
    await page.waitForSelector('#create-form');

    // 2. A CSV with one bad number: the API's 422 must land next to the
    //    recipients field, naming the CSV line, and nothing is created.
    const rows = [];
    for (let i = 0; i < RECIPIENTS; i++) rows.push(['6012' + String(3000000 + i), 'Person ' + i, i % 2 ? 'gold' : 'silver']);
    await page.fill('#message', 'Hi {{name}}, your plan: {{vars.plan}}');
    await page.setInputFiles('#recipients-file', { name: 'bad.csv', mimeType: 'text/csv',
      buffer: Buffer.from(csvFile([...rows, ['12', 'Too Short', 'gold']])) });
    await page.waitForFunction(n => document.querySelector('#preview').textContent.startsWith(n + ' recipient'), RECIPIENTS + 1);
    await page.fill('#tag', 'web-test');
    await page.fill('#transport', 'sim');
    await page.click('#create');
    await page.waitForFunction(() => document.querySelector('#recipients-error').textContent.length > 0);
    const err = await page.textContent('#recipients-error');
    check(err.includes('1 of ' + (RECIPIENTS + 1) + ' recipients are invalid'), 'the 422 message next to recipients, got: ' + err);
    check(err.includes('line ' + (RECIPIENTS + 2) + ': "12"'), 'the bad CSV line named (line ' + (RECIPIENTS + 2) + '), got: ' + err);
    check(await page.$eval('#recipients', n => n.classList.contains('invalid')), 'the recipients field marked invalid');
    check((await page.textContent('#form-error')) === '', 'no form-level error for a field error');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(OUT, 'create-validation-error.png'), fullPage: true });
    const none = await (await fetch(base + '/api/blasts')).json();
    check(none.items.length === 0, 'a rejected blast created nothing');

    // 3. The corrected file with an unknown transport: that error goes next
    //    to the transport field, the recipients' error is gone.
    await page.setInputFiles('#recipients-file', { name: 'people.csv', mimeType: 'text/csv', buffer: Buffer.from(csvFile(rows)) });
    await page.waitForFunction(n => document.querySelector('#preview').textContent.startsWith(n + ' recipient'), RECIPIENTS);
    check((await page.textContent('#preview')).includes('Hi Person 0, your plan: silver'), 'the preview renders the variables');
    await page.fill('#transport', 'no-such-transport');
    await page.click('#create');
    await page.waitForFunction(() => document.querySelector('#transport-error').textContent.length > 0);
    check((await page.textContent('#recipients-error')) === '', 'the recipients error cleared on resubmit');
    check((await page.textContent('#transport-error')).includes('no-such-transport'),
          'the unknown transport named next to its field: ' + await page.textContent('#transport-error'));

    // 4. Fixed: created, and the page moves to the blast.
    await page.fill('#transport', 'sim');
    await page.click('#create');
    await page.waitForFunction(() => location.hash === '#/blasts/1');
    await page.waitForSelector('#funnel');
    await page.waitForFunction(() => document.querySelector('#live').textContent === 'live');
    const created = await (await fetch(base + '/api/blasts/1')).json();
    check(created.transport === 'sim' && created.blastTag === 'web-test' && created.totalRecipients === RECIPIENTS,
          'the blast as submitted: ' + JSON.stringify(created));

    // 5. The funnel changes on the page without a reload: a marker set on
    //    window now would be gone after one.
    await page.evaluate(() => { window.__noReload = true; });
    const first = await funnelOnPage(page);
    const seen = new Set([JSON.stringify(first)]);
    // Wait for at least three different funnels and for sim to have sent
    // everyone and delivered some (its delays go up to 10 s).
    await waitFor(async () => {
      const f = await funnelOnPage(page);
      seen.add(JSON.stringify(f));
      const pending = Number(await page.textContent('#stat-pending'));
      return seen.size >= 3 && pending === 0 && f.delivered.reached > first.delivered.reached && f.read.reached > 0;
    }, 'the funnel to change live (seen ' + seen.size + ' states)', 30000);
    check(await page.evaluate(() => window.__noReload === true), 'the page was not reloaded');
    // The page's numbers are the server's (a report taken now may be a step ahead: compare totals only).
    const api = await (await fetch(base + '/api/blasts/1/report')).json();
    check(Number((await page.textContent('#stat-total')).replace(/\D/g, '')) === api.totalRecipients, 'total on the page');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(OUT, 'blast-funnel-live.png'), fullPage: true });

    // 6. A stuck list: the stage with the most recipients stuck right now.
    const now = await funnelOnPage(page);
    const stage = ['sent', 'delivered', 'read', 'replied'].sort((a, b) => now[b].stuck - now[a].stuck)[0];
    check(now[stage].stuck > 0, 'some stage has stuck recipients: ' + JSON.stringify(now));
    await page.click('button[data-stuck=' + stage + ']');
    await page.waitForFunction(() => document.querySelectorAll('#stuck-rows tr').length > 0);
    const stuckRows = await page.$$eval('#stuck-rows tr', trs => trs.map(tr => [...tr.children].map(td => td.textContent)));
    // Statuses keep arriving: a row is at `stage` or just moved past it since the list was read.
    check(stuckRows.every(r => r[4].match(/^\d+(s|m \d+s)$/)), 'time in stage shown: ' + JSON.stringify(stuckRows[0]));
    check(stuckRows.length >= 1 && stuckRows.length <= RECIPIENTS, 'stuck rows: ' + stuckRows.length);
    check((await page.textContent('#stuck-info')).includes('stuck at ' + stage), 'the list names its stage');
    // olderThan: nobody has been anywhere for an hour; a bad duration is shown by the field.
    await page.fill('#stuck-older', '1h');
    await page.click('#stuck button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#stuck-rows tr').length === 0 &&
                                     document.querySelector('#stuck-info').textContent.includes('longer than 1h'));
    await page.fill('#stuck-older', 'soon');
    await page.click('#stuck button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#stuck-older-error').textContent.includes('olderThan'));
    await page.fill('#stuck-older', '');
    await page.click('#stuck button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#stuck-rows tr').length > 0);

    // 7. A recipient: its timeline and exact messageData, then "Mark closed".
    const rid = await page.$eval('#stuck-rows tr a', a => a.textContent);
    await page.click('#stuck-rows tr a');
    await page.waitForSelector('#timeline li');
    const rawBody = await (await fetch(base + '/api/blasts/1/recipients/' + rid)).text();
    const detail = JSON.parse(rawBody);
    const shownData = await page.textContent('#message-data');
    check(shownData !== 'null' && rawBody.endsWith(',"messageData":' + shownData + '}'),
          'messageData shown byte for byte: ' + shownData);
    const events = await page.$$eval('#timeline li', lis => lis.length);
    check(events === detail.events.length && events >= 2, 'timeline has every event (' + events + ' vs ' + detail.events.length + ')');
    check((await page.textContent('#timeline')).includes('send_requested'), 'timeline shows the send request');
    const closedBefore = (await funnelOnPage(page)).closed.reached;
    check(closedBefore === 0, 'sim closes nobody by itself');
    await page.fill('#status-note', 'closed by the web test');
    await page.click('button[data-mark=closed]');
    await page.waitForFunction(() => /Marked closed: advanced/.test((document.querySelector('#status-outcome') || {}).textContent));
    check((await page.textContent('#recipient-stage')) === 'closed', 'the recipient shows closed');
    check((await page.textContent('#timeline')).includes('closed by the web test'), 'the note is in the timeline');
    await waitFor(async () => (await funnelOnPage(page)).closed.reached === 1 &&
                              (await page.textContent('#stat-closed')) === '1',
                  'the funnel to show 1 closed (live, from the stream)');
    check(await page.evaluate(() => window.__noReload === true), 'the page was not reloaded to show the close');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(OUT, 'recipient-closed.png'), fullPage: true });

    // 8. The CSV download: every recipient, the closed one closed.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv-link')]);
    const csvPath = path.join(OUT, 'blast-1-recipients.csv');
    await download.saveAs(csvPath);
    const lines = fs.readFileSync(csvPath, 'utf8').trim().split(/\r?\n/);
    check(lines[0].startsWith('id,phoneNumber,name,stage,stageSince,'), 'CSV header: ' + lines[0]);
    check(lines.length === RECIPIENTS + 1, 'CSV has ' + RECIPIENTS + ' rows, got ' + (lines.length - 1));
    const phones = new Set(lines.slice(1).map(l => l.split(',')[1]));
    check(rows.every(r => phones.has(r[0])), 'every uploaded phone number is in the CSV');
    const closedRow = lines.find(l => l.split(',')[0] === String(detail.id));
    check(closedRow && closedRow.split(',')[3] === 'closed', 'the closed recipient\'s CSV row: ' + closedRow);

    // 9. Pagination: a `manual` blast of 60 with everyone marked sent through
    //    the API is 60 stuck at sent; the page shows 50, "Load more" the last
    //    10, none twice, and the button goes away.
    const many = [];
    for (let i = 0; i < 60; i++) many.push('6019' + String(4000000 + i));
    const b2 = await (await fetch(base + '/api/blasts', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ message: 'paging', transport: 'manual', blastTag: 'paging', recipients: many }) })).json();
    for (let i = 1; i <= 60; i++) {
      const r = await fetch(base + '/api/blasts/' + b2.id + '/recipients/' + i + '/status',
                            { method: 'POST', body: JSON.stringify({ stage: 'sent' }) });
      check(r.status === 200, 'manual status update answered ' + r.status);
    }
    await page.goto(base + '/#/blasts/' + b2.id);
    await page.waitForFunction(() => document.querySelector('#live').textContent === 'live');
    await page.waitForFunction(() => document.querySelector('[data-stage=sent] .stuck-count').textContent === '60');
    await page.click('button[data-stuck=sent]');
    await page.waitForFunction(() => document.querySelectorAll('#stuck-rows tr').length === 50);
    check(await page.isVisible('#stuck-more'), '"Load more" shown while there is a nextCursor');
    await page.click('#stuck-more');
    await page.waitForFunction(() => document.querySelectorAll('#stuck-rows tr').length === 60);
    const ids = await page.$$eval('#stuck-rows tr', trs => trs.map(tr => tr.dataset.recipient));
    check(new Set(ids).size === 60, 'two pages list 60 different recipients');
    check(!(await page.isVisible('#stuck-more')), '"Load more" hidden after the last page');

    // 10. The list: the blasts with tag, status and progress; filters.
    await page.goto(base + '/#/');
    await page.waitForSelector('tr[data-blast="1"]');
    const row = await page.textContent('tr[data-blast="1"]');
    check(row.includes('web-test') && row.includes(String(RECIPIENTS)), 'list row: ' + row);
    // Every send has an outcome by now (step 4 waited for pending 0).
    await page.waitForFunction(() => document.querySelector('tr[data-blast="1"] .progress > div').style.width === '100%' &&
                                     document.querySelector('tr[data-blast="1"]').textContent.includes('100% sent'));
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(OUT, 'blast-list.png'), fullPage: true });
    await page.fill('#filter-tag', 'no-such-tag');
    await page.click('#filters button[type=submit]');
    await page.waitForSelector('text=No blast matches these filters');
    await page.fill('#filter-tag', 'web-test');
    await page.click('#filters button[type=submit]');
    await page.waitForSelector('tr[data-blast="1"]');

    // 11. A phone screen: the blast page fits its width.
    const phone = await context.newPage();
    phone.on('pageerror', e => pageErrors.push(e.message));
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(base + '/#/blasts/1');
    await phone.waitForFunction(() => document.querySelector('#live') && document.querySelector('#live').textContent === 'live');
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, 'the blast page is ' + overflow + ' px wider than a 390 px screen');
    await phone.screenshot({ path: path.join(OUT, 'blast-phone.png'), fullPage: true });
    await phone.close();

    // 12. A server that wants a key: the page asks, stores it and sends it.
    //     (This blastd runs open on loopback; the 401 is made here. engine.auth
    //     checks blastd's own 401s.)
    const keyed = await context.newPage();
    keyed.on('pageerror', e => pageErrors.push(e.message));
    const seenAuth = [];
    await keyed.route('**/api/blasts', route => {
      const auth = route.request().headers()['authorization'];
      seenAuth.push(auth || '');
      if (auth !== 'Bearer s3cret')
        return route.fulfill({ status: 401, contentType: 'application/json',
                               body: JSON.stringify({ error: { code: 'unauthorized', message: 'API key required' } }) });
      return route.continue();
    });
    await keyed.goto(base + '/#/');
    await keyed.waitForSelector('#key-dialog[open]');
    await keyed.fill('#key-input', 's3cret');
    await keyed.click('#key-form button[type=submit]');
    await keyed.waitForSelector('tr[data-blast="1"]');
    check(seenAuth[0] === '' && seenAuth.includes('Bearer s3cret'), 'the key was asked for and sent: ' + JSON.stringify(seenAuth));
    check(await keyed.evaluate(() => sessionStorage.getItem('blastd.apiKey')) === 's3cret', 'the key is kept in sessionStorage');
    check(await keyed.evaluate(() => localStorage.getItem('blastd.apiKey')) === null, 'and not in localStorage');
    await keyed.close();

    await webhookViewer(browser, pageErrors);

    check(pageErrors.length === 0, 'no script errors on the pages: ' + pageErrors.join(' | '));
    console.log('web.dashboard: ok; screenshots in ' + OUT);
  } catch (e) {
    if (page) await page.screenshot({ path: path.join(OUT, 'failure.png'), fullPage: true }).catch(() => {});
    if (pageErrors.length) console.error('page errors: ' + pageErrors.join(' | '));
    console.error('blastd stderr (tail): ' + server.stderr().slice(-2000));
    throw e;
  } finally {
    if (browser) await browser.close();
    await stop(server.proc);  // before the folder goes
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const deadline = setTimeout(() => { console.error('web.dashboard: over 100 s, giving up'); process.exit(1); }, 100000);
main().then(() => { clearTimeout(deadline); }, e => {
  console.error('web.dashboard FAILED: ' + (e && e.stack || e));
  process.exit(1);
});
