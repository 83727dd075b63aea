/*
 * hookline pages: the link to the host product (Atlassian's all.js, loaded first) and to the
 * app's own JSON API. Requests carry a context token from AP.context.getToken(); the page
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

  /* A human sentence for a failed API answer. */
  function failure(result) {
    var code = result.body && result.body.code;
    if (code === 'not_admin' || code === 'no_user') {
      return 'Only site administrators can change rules.';
    }
    if (result.status === 401) {
      return 'Your session could not be verified. Reload the page and try again.';
    }
    if (result.body && result.body.message) {
      return result.body.message;
    }
    return 'Something went wrong (HTTP ' + result.status + '). Try again.';
  }

  /* el('td', {className: 'x', title: 'y'}, [child, 'text']) */
  function el(tag, properties, children) {
    var node = document.createElement(tag);
    Object.keys(properties || {}).forEach(function (key) {
      if (key === 'dataset') {
        Object.assign(node.dataset, properties.dataset);
      } else {
        node[key] = properties[key];
      }
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) {
        node.append(child);
      }
    });
    return node;
  }

  function lozenge(text, appearance) {
    return el('span', { className: 'lozenge lozenge-' + (appearance || 'default'), textContent: text });
  }

  function relativeTime(iso) {
    var then = new Date(iso);
    var seconds = Math.round((Date.now() - then.getTime()) / 1000);
    if (!isFinite(seconds)) return '';
    if (seconds < 45) return 'just now';
    var minutes = Math.round(seconds / 60);
    if (minutes < 60) return minutes + (minutes === 1 ? ' minute ago' : ' minutes ago');
    var hours = Math.round(minutes / 60);
    if (hours < 24) return hours + (hours === 1 ? ' hour ago' : ' hours ago');
    var days = Math.round(hours / 24);
    if (days < 30) return days + (days === 1 ? ' day ago' : ' days ago');
    return then.toLocaleDateString();
  }

  /* Asks the host to fit the iframe to the content (all.js also watches for changes). */
  function resize() {
    if (window.AP && typeof window.AP.resize === 'function') {
      window.AP.resize();
    }
  }

  function banner(node, kind, text) {
    node.className = 'banner banner-' + kind;
    node.textContent = text;
    node.hidden = !text;
    resize();
  }

  window.hookline = {
    api: api,
    banner: banner,
    el: el,
    failure: failure,
    lozenge: lozenge,
    relativeTime: relativeTime,
    resize: resize,
  };
})();
