// Passkeys (WebAuthn): progressive enhancement of the login and account pages. Without
// JavaScript or WebAuthn the passkey controls stay hidden and every other form works.
(() => {
  'use strict';
  if (!window.PublicKeyCredential || !navigator.credentials) return;
  const enc = (buf) =>
    btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const dec = (s) =>
    Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
  for (const el of document.querySelectorAll('[data-passkey]')) el.hidden = false;

  const fail = (form, err) => {
    const box = form.querySelector('[role="alert"]');
    if (box) {
      box.hidden = false;
      box.textContent = box.dataset.message + (err && err.message ? ` (${err.message})` : '');
    }
  };
  async function ceremony(form) {
    const r = await fetch(form.dataset.options, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: form.elements.csrf.value }),
    });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    return r.json();
  }

  const add = document.getElementById('passkey-add-form');
  if (add) {
    add.addEventListener('submit', async (event) => {
      if (add.elements.ceremony_id.value) return;
      event.preventDefault();
      try {
        const o = await ceremony(add);
        const pk = o.publicKey;
        pk.challenge = dec(pk.challenge);
        pk.user.id = dec(pk.user.id);
        pk.excludeCredentials = pk.excludeCredentials.map((c) => ({ ...c, id: dec(c.id) }));
        const cred = await navigator.credentials.create({ publicKey: pk });
        add.elements.ceremony_id.value = o.ceremony_id;
        add.elements.credential_id.value = enc(cred.rawId);
        add.elements.client_data_json.value = enc(cred.response.clientDataJSON);
        add.elements.attestation_object.value = enc(cred.response.attestationObject);
        add.submit();
      } catch (err) {
        fail(add, err);
      }
    });
  }

  const login = document.getElementById('passkey-login-form');
  if (login) {
    login.addEventListener('submit', async (event) => {
      if (login.elements.ceremony_id.value) return;
      event.preventDefault();
      try {
        const o = await ceremony(login);
        const pk = o.publicKey;
        pk.challenge = dec(pk.challenge);
        const cred = await navigator.credentials.get({ publicKey: pk });
        login.elements.ceremony_id.value = o.ceremony_id;
        login.elements.credential_id.value = enc(cred.rawId);
        login.elements.client_data_json.value = enc(cred.response.clientDataJSON);
        login.elements.authenticator_data.value = enc(cred.response.authenticatorData);
        login.elements.signature.value = enc(cred.response.signature);
        login.submit();
      } catch (err) {
        fail(login, err);
      }
    });
  }
})();
