/*
 * hookline pages, Connect and Forge alike: small DOM helpers and the wording of failed API
 * answers. Loaded first; the page's transport (connect.js, or bridge.js on Forge) then adds
 * `api` to window.hookline, and connect.js `resize`. Everything shown is built with
 * textContent, never innerHTML.
 */
(function () {
  'use strict';

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

  function banner(node, kind, text) {
    node.className = 'banner banner-' + kind;
    node.textContent = text;
    node.hidden = !text;
    window.hookline.resize();
  }

  window.hookline = Object.assign(window.hookline || {}, {
    banner: banner,
    el: el,
    failure: failure,
    lozenge: lozenge,
    relativeTime: relativeTime,
    /* Fits the host's frame to the content, where the host needs telling (connect.js). */
    resize: function () {},
  });
})();
