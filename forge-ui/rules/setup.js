/*
 * hookline rules admin (Forge Custom UI): the Connect page's own script (rules.js, a copy of
 * ingress/static/rules.js made by forge-ui/build.sh) runs the list, the form and the preview;
 * this fills in what the Connect page has rendered by the server: the form's choices for the
 * site's product, from GET /forge/ui/site, and the first list of rules. The server validates
 * every rule exactly as for Connect.
 */
(function () {
  'use strict';
  var h = window.hookline;
  var $ = function (id) { return document.getElementById(id); };

  /* Per product: the form's hints. The events, actions and conditions come from the site. */
  var PRODUCTS = {
    jira: {
      name: 'Jira',
      template: 'Thanks for reporting {{ issue.key }}: "{{ issue.fields.summary }}" is queued for triage.',
      objects: 'issue, user, comment, changelog',
      key: 'KAN',
      pointer: '/issue/fields/priority/name',
    },
    confluence: {
      name: 'Confluence',
      template: 'New page "{{ page.title }}" in {{ page.spaceKey }}: thanks, {{ userDisplayName }}!',
      objects: 'page, comment',
      key: 'ENG',
      pointer: '/page/title',
    },
  };

  function options(select, pairs) {
    select.replaceChildren.apply(select, pairs.map(function (pair) {
      return h.el('option', { value: pair[0], textContent: pair[1] });
    }));
  }

  function choices(list) {
    return (list || []).map(function (choice) { return [choice.value, choice.label]; });
  }

  /* `jira:issue_created` → `Issue created`. */
  function eventLabel(event) {
    var name = event.split(':').pop().replace(/_/g, ' ');
    return name.charAt(0).toUpperCase() + name.slice(1);
  }

  function setUp(site) {
    var product = PRODUCTS[site.product] || PRODUCTS.jira;
    var conditionTemplate = $('condition-template').content;
    $('product-name').textContent = product.name;
    $('template-objects').textContent = product.objects;
    options($('rule-event'), (site.events || []).map(function (event) {
      return [event, eventLabel(event) + ' (' + event + ')'];
    }));
    options($('action-type'), choices(site.actions));
    options(conditionTemplate.querySelector('.condition-type'), choices(site.conditions));
    conditionTemplate.querySelector('[data-input="key"] input').placeholder = product.key;
    conditionTemplate.querySelector('[data-input="pointer"] input').placeholder = product.pointer;
    $('action-template').defaultValue = product.template;
    $('format-field').hidden = site.product !== 'jira';
    $('action-format').disabled = site.product !== 'jira';
    $('create-button').disabled = false;
  }

  (async function start() {
    var site = await h.api('GET', 'site');
    if (!site.ok) {
      $('rules-loading').hidden = true;
      h.banner($('banner'), 'error', h.failure(site));
      return;
    }
    setUp(site.body);
    await h.rulesPage.start();
  })();
})();
