/*
 * hookline's Custom UI pages: the link to Forge (the host's bridge) and to hookline's API, and
 * small DOM helpers shared by the rules page and the activity panel. Everything shown is built
 * with textContent, never innerHTML. Generated copies: edit forge-ui/shared/, then run
 * forge-ui/build.sh.
 *
 * Why no @forge/bridge: the npm package is published under the Atlassian Developer Terms (not
 * an open-source licence we can vendor) and needs a bundler at build time. It is a thin layer
 * over the object Forge injects into every Custom UI iframe, `window.__bridge`, and these pages
 * need two of its calls. They are made here exactly as @forge/bridge 7.2.0 makes them:
 *
 *   invokeRemote(input)   out/invoke-endpoint/invoke-endpoint.js:
 *     window.__bridge.callBridge('invoke', {path, method, headers?, body?,
 *                                           invokeType: 'ui-remote-fetch'})
 *     resolves to {success, payload, error}; the answer is `payload` on success, else `error`,
 *     each {status, headers: {name: [values]}, body}. Forge sends the request to the remote's
 *     baseUrl + path with a Forge Invocation Token; `body` is JSON (an object, not a string).
 *   view.getContext()     out/view/getContext.js:
 *     window.__bridge.callBridge('getContext')
 *     resolves to the module's context: {cloudId, localId, moduleKey, siteUrl, accountId,
 *     extension: {type, issue: {key, id}, content: {id}, space: {key}, ...}, locale, ...}.
 *
 * Should Atlassian change the bridge protocol, replacing these two functions with the
 * package's is the whole migration.
 */
(function () {
  'use strict';

  /* The remote routes behind the `hookline-ui` endpoint (common::forge::UI). */
  var API_ROOT = '/forge/ui/';

  function callBridge(name, payload) {
    var bridge = window.__bridge;
    if (!bridge || typeof bridge.callBridge !== 'function') {
      return Promise.reject(new Error('Open this page from Jira or Confluence: the Forge bridge is not available.'));
    }
    return Promise.resolve(bridge.callBridge(name, payload));
  }

  /* @forge/bridge's invokeRemote. */
  async function invokeRemote(input) {
    var answer = await callBridge('invoke', Object.assign({}, input, { invokeType: 'ui-remote-fetch' }));
    var reply = Object.assign({}, answer && (answer.success ? answer.payload : answer.error));
    if (reply.headers) {
      Object.keys(reply.headers).forEach(function (name) {
        if (Array.isArray(reply.headers[name])) reply.headers[name] = reply.headers[name].join(',');
      });
    }
    return reply;
  }

  /* @forge/bridge's view.getContext. */
  function getContext() {
    return callBridge('getContext');
  }

  /* Calls hookline (path relative to /forge/ui/) and resolves to {status, ok, body}. */
  async function api(method, path, body) {
    var input = { path: API_ROOT + path, method: method };
    if (body !== undefined) input.body = body;
    var reply;
    try {
      reply = await invokeRemote(input);
    } catch (error) {
      return { status: 0, ok: false, body: { message: error.message || 'hookline could not be reached. Retry.' } };
    }
    var status = Number(reply.status) || 0;
    var parsed = reply.body === undefined ? null : reply.body;
    if (typeof parsed === 'string') {
      try {
        parsed = JSON.parse(parsed);
      } catch (error) {
        parsed = null;
      }
    }
    return { status: status, ok: status >= 200 && status < 300, body: parsed };
  }

  /* A human sentence for a failed API answer. */
  function failure(result) {
    var code = result.body && result.body.code;
    if (code === 'not_admin' || code === 'no_user') {
      return 'Only site administrators can change rules.';
    }
    if (code === 'installation_unknown') {
      return 'hookline is still setting up this site. Try again in a minute.';
    }
    if (result.status === 401) {
      return 'This request could not be verified. Reload the page and try again.';
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
      if (child !== null && child !== undefined) node.append(child);
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

  function banner(node, kind, text) {
    node.className = 'banner banner-' + kind;
    node.textContent = text;
    node.hidden = !text;
  }

  window.hookline = {
    api: api,
    banner: banner,
    el: el,
    failure: failure,
    getContext: getContext,
    invokeRemote: invokeRemote,
    lozenge: lozenge,
    relativeTime: relativeTime,
  };
})();
