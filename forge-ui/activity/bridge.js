/*
 * hookline's Custom UI pages: the link to Forge (the host's bridge) and to hookline's API;
 * the DOM helpers are the Connect pages' page.js, loaded first. Generated copies: edit
 * forge-ui/shared/, then run forge-ui/build.sh.
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

  window.hookline = Object.assign(window.hookline || {}, {
    api: api,
    getContext: getContext,
    invokeRemote: invokeRemote,
  });
})();
