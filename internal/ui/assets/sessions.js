// "Your devices": lists the holder's sessions (GET /v1/session/all) and
// signs devices out. Everything the server sends is inserted as text, never
// as markup. Served with a CSP that allows only this file as script; the
// page's words come in the <html> element's data-messages, in the page's
// language, which also formats the times.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const root = document.documentElement;
  const lang = root.lang || 'en';
  const M = JSON.parse(root.dataset.messages || '{}');
  const loginURL = root.dataset.loginUrl || '';
  const securityURL = root.dataset.securityUrl || '';
  const list = $('sessions');
  const errorBox = $('error');
  const statusBox = $('status');
  const othersButton = $('sign-out-others');
  const thisButton = $('sign-out-this');
  const dialog = $('confirm');
  const rtf = new Intl.RelativeTimeFormat(lang, { numeric: 'auto' });
  const dtf = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' });
  const plurals = new Intl.PluralRules(lang);
  let sessions = [];
  let confirming = ''; // 'others' or 'this': what the open dialog confirms

  // t returns the message key in the page's language with {names} filled.
  function t(key, vars = {}) {
    let s = M[key] ?? key;
    for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
    return s;
  }
  function tn(key, n, vars = {}) {
    const form = `${key}.${plurals.select(n)}`;
    return t(form in M ? form : `${key}.other`, { n, ...vars });
  }

  // deviceName puts the server's device name ("Chrome on Windows") in the
  // page's language.
  function deviceName(name) {
    if (!name || name === 'Unknown device') return t('unknownDevice');
    if (name === 'Automated client') return t('automatedClient');
    const on = name.match(/^(.+) on (.+)$/);
    if (on) return t('deviceOn', { browser: on[1], os: on[2] });
    const os = name.match(/^(.+) device$/);
    if (os) return t('osDevice', { os: os[1] });
    return name;
  }

  // relative says "3 minutes ago" in the page's language.
  function relative(date) {
    const secs = Math.round((date.getTime() - Date.now()) / 1000);
    const units = [['year', 31536000], ['month', 2592000], ['week', 604800],
      ['day', 86400], ['hour', 3600], ['minute', 60]];
    for (const [unit, size] of units) {
      if (Math.abs(secs) >= size) return rtf.format(Math.round(secs / size), unit);
    }
    return rtf.format(0, 'second');
  }

  function showError(text, retry) {
    $('error-text').textContent = text;
    $('retry').hidden = !retry;
    errorBox.hidden = false;
  }

  function clearMessages() {
    errorBox.hidden = true;
    $('error-text').textContent = '';
    $('security-hint').hidden = true;
    statusBox.textContent = '';
  }

  function offerSecurityLink() {
    if (securityURL) $('security-hint').hidden = false;
  }

  class SignedOut extends Error {}
  class Gone extends Error {}

  // api calls the gateway on this origin with the session cookie; an error
  // carries a sentence a person can act on.
  async function api(method, path) {
    let res;
    try {
      res = await fetch(path, { method, credentials: 'same-origin', headers: { Accept: 'application/json' } });
    } catch {
      throw new Error(t('errUnreachable'));
    }
    if (res.status === 401) throw new SignedOut();
    if (res.status === 404) throw new Gone();
    if (!res.ok) {
      if (res.status === 503 || res.status === 429) throw new Error(t('errBusy'));
      throw new Error(t('errStatus', { status: res.status }));
    }
    return res.status === 204 ? null : res.json();
  }

  function showSignedOut() {
    $('loading').hidden = true;
    $('signed-in').hidden = true;
    $('signed-out').hidden = false;
    if (loginURL) {
      // Bring the user back here after signing in.
      const u = new URL(loginURL, location.href);
      u.searchParams.set('rd', location.href);
      $('login-link').href = u.href;
      $('login').hidden = false;
    } else {
      $('no-login').hidden = false;
    }
    $('title').focus();
  }

  // --- rendering ---

  const SVG = 'http://www.w3.org/2000/svg';
  // One outline per device type (decorative: the name says what it is).
  const icons = {
    desktop: ['M3 5h18v11H3z', 'M8 20h8M12 16v4'],
    mobile: ['M7 2h10v20H7z', 'M11 18h2'],
    tablet: ['M4 3h16v18H4z', 'M11 18h2'],
    tv: ['M2 5h20v13H2z', 'M8 21h8'],
    bot: ['M5 8h14v11H5z', 'M12 4v4M9 13h.01M15 13h.01'],
    unknown: ['M4 4h16v16H4z', 'M9.5 9.5a2.5 2.5 0 1 1 3.5 2.3V14M12 17h.01'],
  };
  function icon(type) {
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('class', `icon icon-${icons[type] ? type : 'unknown'}`);
    for (const d of icons[type] || icons.unknown) {
      const p = document.createElementNS(SVG, 'path');
      p.setAttribute('d', d);
      svg.append(p);
    }
    return svg;
  }

  function field(dl, label, value) {
    const wrap = document.createElement('div');
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = label;
    if (value instanceof Node) dd.append(value); else dd.textContent = value;
    wrap.append(dt, dd);
    dl.append(wrap);
  }

  // reveal is a value shown short, with its full form shown on focus (by
  // keyboard or a tap) and hover, and read by screen readers.
  function reveal(short, full, cls) {
    const span = document.createElement('span');
    span.className = `reveal ${cls}`;
    span.tabIndex = 0;
    const s = document.createElement('span');
    s.className = 'short';
    s.textContent = short;
    s.setAttribute('aria-hidden', 'true');
    const f = document.createElement('span');
    f.className = 'full';
    f.textContent = full;
    span.append(s, f);
    return span;
  }

  function time(iso) {
    const d = new Date(iso);
    const t2 = document.createElement('time');
    t2.dateTime = iso;
    t2.className = 'rel';
    t2.textContent = relative(d);
    const exact = document.createElement('span');
    exact.className = 'exact';
    exact.textContent = ` (${dtf.format(d)})`;
    const w = document.createElement('span');
    w.className = 'when';
    w.tabIndex = 0;
    w.append(t2, exact);
    return w;
  }

  // shortAddress keeps a long (IPv6) address to its first and last groups.
  function shortAddress(a) {
    if (a.length <= 22 || !a.includes(':')) return a;
    const g = a.split(':').filter(Boolean);
    return `${g.slice(0, 3).join(':')}:…:${g[g.length - 1]}`;
  }

  function address(a) {
    if (!a) return t('unknown');
    const s = shortAddress(a);
    return s === a ? a : reveal(s, a, 'addr');
  }

  function badge(kind, text) {
    const b = document.createElement('span');
    b.className = `badge ${kind}`;
    b.textContent = text;
    return b;
  }

  function row(s) {
    const li = document.createElement('li');
    li.className = 'session';
    li.dataset.id = s.id;
    if (s.current) li.dataset.current = 'true';
    const name = deviceName(s.device);
    li.append(icon(s.device_type));
    const info = document.createElement('div');
    info.className = 'info';
    const h = document.createElement('h2');
    const nameEl = document.createElement('span');
    nameEl.className = 'device';
    nameEl.textContent = name;
    h.append(nameEl);
    if (s.current) h.append(badge('current', t('thisDevice')));
    if (s.new_device) h.append(badge('new', t('newDevice')));
    info.append(h);
    if (s.new_device) {
      const hint = document.createElement('p');
      hint.className = 'new-hint';
      hint.textContent = t('newDeviceHint');
      if (s.current) {
        const dismiss = document.createElement('button');
        dismiss.type = 'button';
        dismiss.className = 'link dismiss';
        dismiss.textContent = t('dismiss');
        dismiss.setAttribute('aria-label', t('dismissLabel'));
        dismiss.addEventListener('click', () => dismissNewDevice(dismiss));
        hint.append(' ', dismiss);
      }
      info.append(hint);
    }
    const dl = document.createElement('dl');
    field(dl, t('lastActive'), s.current ? t('activeNow') : time(s.last_activity_at));
    field(dl, t('address'), address(s.last_ip_address || s.ip_address));
    field(dl, t('signedIn'), time(s.created_at));
    if (s.ip_address && s.last_ip_address && s.ip_address !== s.last_ip_address) {
      field(dl, t('signedInFrom'), address(s.ip_address));
    }
    info.append(dl);
    li.append(info);
    if (!s.current) { // this device signs out with the button below the list
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'sign-out';
      button.textContent = t('signOut');
      button.setAttribute('aria-label', t('signOutLabel', { device: name, address: s.last_ip_address || s.ip_address || t('unknown') }));
      button.addEventListener('click', () => signOutOne(s, li));
      li.append(button);
    }
    return li;
  }

  function render() {
    list.replaceChildren(...sessions.map(row));
    const others = sessions.filter((s) => !s.current).length;
    othersButton.hidden = others === 0;
    $('none-else').hidden = others !== 0;
    $('loading').hidden = true;
    $('signed-out').hidden = true;
    $('signed-in').hidden = false;
  }

  // Relative times move on while the page is open.
  function refreshTimes() {
    for (const el of document.querySelectorAll('time.rel')) el.textContent = relative(new Date(el.dateTime));
  }

  async function fetchSessions() {
    const body = await api('GET', '/v1/session/all');
    sessions = body.sessions.sort((a, b) => (b.current - a.current)
      || (new Date(b.last_activity_at) - new Date(a.last_activity_at)));
  }

  async function load() {
    try {
      await fetchSessions();
      render();
      return true;
    } catch (e) {
      if (e instanceof SignedOut) { showSignedOut(); return false; }
      $('loading').hidden = true;
      showError(`${t('errLoad')} ${e.message || ''}`.trim(), true);
      return false;
    }
  }

  // --- actions ---

  async function signOutOne(s, li) {
    clearMessages();
    const name = deviceName(s.device);
    const button = li.querySelector('button.sign-out');
    button.disabled = true;
    const next = li.nextElementSibling || li.previousElementSibling;
    try {
      await api('DELETE', `/v1/session/all/${encodeURIComponent(s.id)}`);
      statusBox.textContent = t('signedOutOne', { device: name });
      offerSecurityLink();
    } catch (e) {
      if (e instanceof SignedOut) return showSignedOut();
      if (!(e instanceof Gone)) {
        button.disabled = false;
        showError(`${t('errSignOutOne', { device: name })} ${e.message}`);
        return;
      }
      // Signed out elsewhere already: what the user wanted.
      statusBox.textContent = t('alreadyGone', { device: name });
    }
    const id = next?.dataset.id;
    if (await load()) {
      const target = id && list.querySelector(`li[data-id="${CSS.escape(id)}"] button.sign-out`);
      (target || $('title')).focus();
    }
  }

  function openDialog(kind, title, text, yes) {
    confirming = kind;
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    $('confirm-yes').textContent = yes;
    dialog.returnValue = '';
    dialog.showModal();
  }

  async function confirmOthers() {
    clearMessages();
    othersButton.disabled = true;
    // Count from a fresh list: devices may have come and gone meanwhile.
    const ok = await load();
    othersButton.disabled = false;
    if (!ok) return;
    const n = sessions.filter((s) => !s.current).length;
    if (n === 0) { $('title').focus(); return; }
    openDialog('others', t('confirmOthersTitle'), tn('confirmOthers', n), t('confirmOthersYes'));
  }

  function confirmThis() {
    clearMessages();
    openDialog('this', t('confirmThisTitle'), t('confirmThisText'), t('confirmThisYes'));
  }

  async function signOutOthers() {
    othersButton.disabled = true;
    try {
      const body = await api('DELETE', '/v1/session/others');
      const n = body && typeof body.revoked === 'number' ? body.revoked : 0;
      await load();
      statusBox.textContent = tn('signedOutOthers', n);
      offerSecurityLink();
      $('title').focus();
    } catch (e) {
      if (e instanceof SignedOut) return showSignedOut();
      showError(`${t('errSignOutOthers')} ${e.message}`);
    } finally {
      othersButton.disabled = false;
    }
  }

  async function signOutThis() {
    thisButton.disabled = true;
    try {
      await api('DELETE', '/v1/session'); // the answer clears the cookie
      showSignedOut();
    } catch (e) {
      if (e instanceof SignedOut || e instanceof Gone) return showSignedOut();
      showError(`${t('errSignOutThis')} ${e.message}`);
    } finally {
      thisButton.disabled = false;
    }
  }

  async function dismissNewDevice(button) {
    clearMessages();
    button.disabled = true;
    try {
      await api('DELETE', '/v1/session/new_device');
      sessions = sessions.map((s) => (s.current ? { ...s, new_device: false } : s));
      render();
      statusBox.textContent = t('dismissed');
      $('title').focus();
    } catch (e) {
      if (e instanceof SignedOut) return showSignedOut();
      button.disabled = false;
      showError(`${t('errDismiss')} ${e.message}`);
    }
  }

  othersButton.addEventListener('click', confirmOthers);
  thisButton.addEventListener('click', confirmThis);
  $('retry').addEventListener('click', () => { clearMessages(); $('loading').hidden = false; load(); });
  dialog.addEventListener('close', () => {
    const kind = confirming;
    confirming = '';
    if (dialog.returnValue !== 'yes') {
      (kind === 'this' ? thisButton : othersButton).focus();
      return;
    }
    if (kind === 'this') signOutThis(); else signOutOthers();
  });
  setInterval(refreshTimes, 60000);
  $('loading').hidden = false;
  load();
})();
