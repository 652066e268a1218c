// "Your devices": lists the holder's sessions (GET /v1/session/all) and
// signs devices out. Everything the server sends is inserted as text, never
// as markup. Served with a CSP that allows only this file as script.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const loginURL = document.documentElement.dataset.loginUrl || '';
  const list = $('sessions');
  const errorBox = $('error');
  const statusBox = $('status');
  const othersButton = $('sign-out-others');
  const thisButton = $('sign-out-this');
  const dialog = $('confirm');
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  let sessions = [];

  // relative says "3 minutes ago" in the viewer's language.
  function relative(date) {
    const secs = Math.round((date.getTime() - Date.now()) / 1000);
    const units = [['year', 31536000], ['month', 2592000], ['week', 604800],
      ['day', 86400], ['hour', 3600], ['minute', 60]];
    for (const [unit, size] of units) {
      if (Math.abs(secs) >= size) return rtf.format(Math.round(secs / size), unit);
    }
    return rtf.format(0, 'second');
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = false;
  }

  function clearMessages() {
    errorBox.hidden = true;
    errorBox.textContent = '';
    statusBox.textContent = '';
  }

  class SignedOut extends Error {}

  // api calls the gateway on this origin with the session cookie; an error
  // carries a sentence a person can act on.
  async function api(method, path) {
    let res;
    try {
      res = await fetch(path, { method, credentials: 'same-origin', headers: { Accept: 'application/json' } });
    } catch {
      throw new Error('The server could not be reached. Check your connection and try again.');
    }
    if (res.status === 401) throw new SignedOut();
    if (!res.ok) {
      let detail = '';
      try { detail = (await res.json()).error?.message || ''; } catch { /* not JSON */ }
      if (res.status === 503 || res.status === 429) {
        throw new Error('The service is busy or briefly unavailable. Please try again in a moment.');
      }
      throw new Error(detail ? `The server refused: ${detail}.` : `The server answered with an error (HTTP ${res.status}).`);
    }
    return res.status === 204 ? null : res.json();
  }

  function showSignedOut() {
    $('loading').hidden = true;
    $('signed-in').hidden = true;
    $('signed-out').hidden = false;
    if (loginURL) {
      $('login-link').href = loginURL;
      $('login').hidden = false;
    }
    $('title').focus();
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

  function time(iso) {
    const d = new Date(iso);
    const t = document.createElement('time');
    t.dateTime = iso;
    t.title = dtf.format(d);
    t.textContent = relative(d);
    return t;
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
    const info = document.createElement('div');
    info.className = 'info';
    const h = document.createElement('h2');
    const name = document.createElement('span');
    name.className = 'device';
    name.textContent = s.device || 'Unknown device';
    h.append(name);
    if (s.current) h.append(badge('current', 'This device'));
    if (s.new_device) h.append(badge('new', 'New device'));
    const dl = document.createElement('dl');
    field(dl, 'Address', s.ip_address || 'unknown');
    field(dl, 'Signed in', time(s.created_at));
    field(dl, 'Last active', time(s.last_activity_at));
    info.append(h, dl);
    li.append(info);
    const button = document.createElement('button');
    button.type = 'button';
    button.className = s.current ? 'secondary sign-out' : 'sign-out';
    button.textContent = 'Sign out';
    const where = s.ip_address ? ` (${s.ip_address})` : '';
    button.setAttribute('aria-label', s.current
      ? 'Sign out of this device'
      : `Sign out ${s.device || 'unknown device'}${where}`);
    button.addEventListener('click', () => (s.current ? signOutThis() : signOutOne(s, li)));
    li.append(button);
    return li;
  }

  function render() {
    list.replaceChildren(...sessions.map(row));
    const others = sessions.filter((s) => !s.current).length;
    othersButton.disabled = others === 0;
    $('loading').hidden = true;
    $('signed-out').hidden = true;
    $('signed-in').hidden = false;
  }

  async function load() {
    try {
      const body = await api('GET', '/v1/session/all');
      sessions = body.sessions.sort((a, b) => (b.current - a.current)
        || (new Date(b.last_activity_at) - new Date(a.last_activity_at)));
      render();
    } catch (e) {
      if (e instanceof SignedOut) return showSignedOut();
      $('loading').hidden = true;
      showError(`Your devices could not be loaded. ${e.message}`);
    }
  }

  async function signOutOne(s, li) {
    clearMessages();
    const button = li.querySelector('button');
    button.disabled = true;
    try {
      await api('DELETE', `/v1/session/all/${encodeURIComponent(s.id)}`);
      const next = li.nextElementSibling || li.previousElementSibling;
      sessions = sessions.filter((x) => x.id !== s.id);
      li.remove();
      othersButton.disabled = !sessions.some((x) => !x.current);
      statusBox.textContent = `Signed out ${s.device || 'the device'}.`;
      (next?.querySelector('button') || $('title')).focus();
    } catch (e) {
      if (e instanceof SignedOut) return showSignedOut();
      button.disabled = false;
      showError(`Could not sign out ${s.device || 'that device'}. ${e.message}`);
    }
  }

  function confirmOthers() {
    const n = sessions.filter((s) => !s.current).length;
    $('confirm-text').textContent = n === 1
      ? 'The other device will have to sign in again.'
      : `All ${n} other devices will have to sign in again.`;
    dialog.returnValue = '';
    dialog.showModal();
  }

  async function signOutOthers() {
    clearMessages();
    othersButton.disabled = true;
    try {
      const body = await api('DELETE', '/v1/session/others');
      sessions = sessions.filter((s) => s.current);
      render();
      const n = body && typeof body.revoked === 'number' ? body.revoked : null;
      statusBox.textContent = n === null ? 'Signed out of all other devices.'
        : `Signed out of ${n} other ${n === 1 ? 'device' : 'devices'}.`;
      $('title').focus();
    } catch (e) {
      if (e instanceof SignedOut) return showSignedOut();
      othersButton.disabled = false;
      showError(`Could not sign out the other devices. ${e.message}`);
    }
  }

  async function signOutThis() {
    clearMessages();
    thisButton.disabled = true;
    try {
      await api('DELETE', '/v1/session');
      showSignedOut();
    } catch (e) {
      if (e instanceof SignedOut) return showSignedOut();
      thisButton.disabled = false;
      showError(`Could not sign out this device. ${e.message}`);
    }
  }

  othersButton.addEventListener('click', confirmOthers);
  thisButton.addEventListener('click', signOutThis);
  dialog.addEventListener('close', () => {
    if (dialog.returnValue === 'yes') signOutOthers();
    else othersButton.focus();
  });
  load();
})();
