/*
 * hookline's Connect pages: the link to the host product (Atlassian's all.js, loaded first) and
 * to the app's own JSON API (page.js holds the helpers the Forge pages share). Requests carry a context token from AP.context.getToken(); the page
 * itself holds no token. Everything shown is built with textContent, never innerHTML.
 */
(function () {
  'use strict';

  function contextToken() {
    return new Promise(function (resolve, reject) {
      var ap = window.AP;
      if (!ap || !ap.context || typeof ap.context.getToken !== 'function') {
        reject(new Error('Open this page from Jira or Confluence: all.js is not available.'));
        return;
      }
      var pending = ap.context.getToken(resolve);
      if (pending && typeof pending.then === 'function') {
        pending.then(resolve, reject);
      }
    });
  }

  /* Calls the API (path relative to /api/) and resolves to {status, ok, body}. */
  async function api(method, path, body) {
    var token;
    try {
      token = await contextToken();
    } catch (error) {
      return { status: 0, ok: false, body: { message: error.message } };
    }
    var init = {
      method: method,
      headers: { Authorization: 'JWT ' + token, Accept: 'application/json' },
      credentials: 'omit',
      cache: 'no-store',
    };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    var response;
    try {
      response = await fetch('../api/' + path, init);
    } catch (error) {
      return { status: 0, ok: false, body: { message: 'hookline could not be reached. Check your connection and retry.' } };
    }
    var parsed = null;
    if (response.status !== 204) {
      try {
        parsed = await response.json();
      } catch (error) {
        parsed = null;
      }
    }
    return { status: response.status, ok: response.ok, body: parsed };
  }

  /* Asks the host to fit the iframe to the content (all.js also watches for changes). */
  function resize() {
    if (window.AP && typeof window.AP.resize === 'function') {
      window.AP.resize();
    }
  }

  window.hookline = Object.assign(window.hookline || {}, { api: api, resize: resize });
})();
