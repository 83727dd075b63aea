/* hookline rules page: list, create (with a live template preview), enable/disable, delete.
   The Forge Custom UI page runs this same script (forge-ui/build.sh copies it), its form and
   first list filled in by forge-ui/rules/setup.js through h.rulesPage. */
(function () {
  'use strict';
  var h = window.hookline;

  var form = document.getElementById('rule-form');
  var bannerNode = document.getElementById('banner');
  var formBanner = document.getElementById('form-banner');
  var table = document.getElementById('rules-table');
  var tbody = document.getElementById('rules-body');
  var empty = document.getElementById('rules-empty');
  var count = document.getElementById('rule-count');
  var conditions = document.getElementById('conditions');
  var noConditions = document.getElementById('no-conditions');
  var conditionTemplate = document.getElementById('condition-template');
  var actionType = document.getElementById('action-type');
  var eventSelect = document.getElementById('rule-event');
  var templateInput = document.getElementById('action-template');
  var formatSelect = document.getElementById('action-format');
  var createButton = document.getElementById('create-button');
  var previewOutput = document.getElementById('preview-output');
  var previewError = document.getElementById('preview-error');
  var previewSample = document.getElementById('preview-sample');

  var ACTION_KIND = {
    jira_comment: 'comment',
    confluence_comment: 'comment',
    jira_label: 'label',
    confluence_label: 'label',
    jira_property: 'property',
    confluence_property: 'property',
  };
  var CONDITION_INPUTS = {
    equals: ['pointer', 'value'],
    contains: ['pointer', 'value'],
    changed: ['field'],
    project_key: ['key'],
    space_key: ['key'],
  };

  function kind() {
    return ACTION_KIND[actionType.value] || 'comment';
  }

  /* ---- The list (rendered by the server on load, by ruleRow after each change) -------- */

  function ruleRow(rule) {
    var summary = rule.summary;
    var conditionCell = summary.conditions.length
      ? h.el('ul', { className: 'condition-list' }, summary.conditions.map(function (text) {
          return h.el('li', { textContent: text });
        }))
      : h.el('span', { className: 'subtle', textContent: 'Every event' });
    var button = function (act, text) {
      return h.el('button', {
        type: 'button',
        className: 'button button-subtle button-compact',
        textContent: text,
        dataset: { act: act },
      });
    };
    return h.el('tr', { dataset: { ruleId: String(rule.id), enabled: String(rule.enabled), name: rule.name } }, [
      h.el('td', { className: 'rule-name' }, [h.el('strong', { textContent: rule.name })]),
      h.el('td', {}, [h.el('code', { className: 'event-name', textContent: rule.event })]),
      h.el('td', {}, [conditionCell]),
      h.el('td', { className: 'rule-action' }, [
        h.el('span', { className: 'action-kind', textContent: summary.actionKind }),
        h.el('span', { className: 'action-detail', textContent: summary.actionDetail }),
      ]),
      h.el('td', {}, [rule.enabled ? h.lozenge('Enabled', 'success') : h.lozenge('Disabled', 'default')]),
      h.el('td', { className: 'row-actions' }, [
        button('toggle', rule.enabled ? 'Disable' : 'Enable'),
        ' ',
        button('delete', 'Delete'),
      ]),
    ]);
  }

  async function loadRules() {
    var result = await h.api('GET', 'rules');
    var loading = document.getElementById('rules-loading');
    if (loading) loading.hidden = true;
    if (!result.ok) {
      h.banner(bannerNode, 'error', h.failure(result));
      return;
    }
    var rules = result.body.rules || [];
    tbody.replaceChildren.apply(tbody, rules.map(ruleRow));
    table.hidden = rules.length === 0;
    empty.hidden = rules.length !== 0;
    count.hidden = rules.length === 0;
    count.textContent = rules.length + (rules.length === 1 ? ' rule' : ' rules');
    h.resize();
  }

  function ruleOf(row) {
    return { id: row.dataset.ruleId, enabled: row.dataset.enabled === 'true', name: row.dataset.name };
  }

  async function setEnabled(rule, button) {
    button.disabled = true;
    var result = await h.api('PATCH', 'rules/' + rule.id, { enabled: !rule.enabled });
    button.disabled = false;
    if (!result.ok) {
      h.banner(bannerNode, 'error', h.failure(result));
      return;
    }
    h.banner(bannerNode, 'success', 'Rule “' + rule.name + '” ' + (rule.enabled ? 'disabled.' : 'enabled.'));
    await loadRules();
  }

  async function removeRule(rule, button) {
    if (button.dataset.confirm !== 'yes') {
      button.dataset.confirm = 'yes';
      button.textContent = 'Confirm delete';
      button.classList.add('button-danger');
      setTimeout(function () {
        button.dataset.confirm = '';
        button.textContent = 'Delete';
        button.classList.remove('button-danger');
      }, 4000);
      return;
    }
    button.disabled = true;
    var result = await h.api('DELETE', 'rules/' + rule.id);
    if (!result.ok) {
      button.disabled = false;
      h.banner(bannerNode, 'error', h.failure(result));
      return;
    }
    h.banner(bannerNode, 'success', 'Rule “' + rule.name + '” deleted.');
    await loadRules();
  }

  tbody.addEventListener('click', function (event) {
    var button = event.target.closest('button[data-act]');
    if (!button) return;
    var rule = ruleOf(button.closest('tr'));
    if (button.dataset.act === 'toggle') setEnabled(rule, button);
    if (button.dataset.act === 'delete') removeRule(rule, button);
  });

  /* ---- Conditions -------------------------------------------------------------------- */

  function showConditionInputs(row) {
    var wanted = CONDITION_INPUTS[row.querySelector('.condition-type').value] || [];
    row.querySelectorAll('[data-input]').forEach(function (input) {
      input.hidden = wanted.indexOf(input.dataset.input) < 0;
    });
  }

  function addCondition() {
    var row = conditionTemplate.content.firstElementChild.cloneNode(true);
    row.querySelector('.condition-type').addEventListener('change', function () {
      showConditionInputs(row);
    });
    row.querySelector('[data-remove]').addEventListener('click', function () {
      row.remove();
      noConditions.hidden = conditions.children.length > 0;
      h.resize();
    });
    conditions.append(row);
    showConditionInputs(row);
    noConditions.hidden = true;
    row.querySelector('.condition-type').focus();
    h.resize();
  }

  /* A value that reads as JSON (42, true, "x") is JSON; anything else is a string. */
  function jsonOrText(text) {
    try {
      return JSON.parse(text);
    } catch (error) {
      return text;
    }
  }

  function readCondition(row) {
    var type = row.querySelector('.condition-type').value;
    var value = function (name) {
      return row.querySelector('[data-input="' + name + '"] input').value.trim();
    };
    switch (type) {
      case 'equals':
        return { type: type, pointer: value('pointer'), value: jsonOrText(value('value')) };
      case 'contains':
        return { type: type, pointer: value('pointer'), value: value('value') };
      case 'changed':
        return { type: type, field: value('field') };
      default:
        return { type: type, key: value('key') };
    }
  }

  /* ---- The form ---------------------------------------------------------------------- */

  function showActionFields() {
    document.querySelectorAll('.action-fields').forEach(function (fields) {
      fields.hidden = fields.dataset.action !== kind();
    });
    schedulePreview();
    h.resize();
  }

  function clearErrors() {
    form.querySelectorAll('.field-error').forEach(function (slot) {
      slot.hidden = true;
      slot.textContent = '';
    });
    form.querySelectorAll('.has-error').forEach(function (node) {
      node.classList.remove('has-error');
    });
    h.banner(formBanner, 'error', '');
  }

  function errorSlot(field) {
    var condition = /^conditions\[(\d+)\]\.(\w+)$/.exec(field);
    if (condition) {
      var row = conditions.children[Number(condition[1])];
      return row ? row.querySelector('[data-error-for="' + condition[2] + '"]') : null;
    }
    return form.querySelector('[data-error-for="' + CSS.escape(field) + '"]');
  }

  function showErrors(errors) {
    var unplaced = [];
    var first = null;
    errors.forEach(function (error) {
      var slot = errorSlot(error.field);
      if (!slot || slot.parentElement.closest('[hidden]')) {
        unplaced.push(error.message);
        return;
      }
      slot.textContent = error.message;
      slot.hidden = false;
      var holder = slot.closest('.field, .condition-input');
      if (holder) holder.classList.add('has-error');
      first = first || (holder && holder.querySelector('input, select, textarea'));
    });
    if (unplaced.length) {
      h.banner(formBanner, 'error', unplaced.join(' '));
    }
    if (first) first.focus();
    h.resize();
  }

  function readForm() {
    var action = { type: actionType.value };
    if (kind() === 'comment') {
      action.template = templateInput.value;
      if (formatSelect && !formatSelect.disabled) action.format = formatSelect.value;
    } else if (kind() === 'label') {
      action.label = document.getElementById('action-label').value.trim();
    } else {
      action.key = document.getElementById('action-key').value.trim();
      var raw = document.getElementById('action-value').value;
      try {
        action.value = JSON.parse(raw);
      } catch (error) {
        showErrors([{ field: 'action.value', message: 'must be JSON, e.g. {"triaged": true} or "text"' }]);
        return null;
      }
    }
    return {
      name: document.getElementById('rule-name').value.trim(),
      event: eventSelect.value,
      conditions: Array.prototype.map.call(conditions.children, readCondition),
      action: action,
      enabled: document.getElementById('rule-enabled').checked,
    };
  }

  function resetForm() {
    conditions.replaceChildren();
    noConditions.hidden = false;
    clearErrors();
    // The reset event fires before the fields take their defaults.
    setTimeout(showActionFields, 0);
  }

  async function submit(event) {
    event.preventDefault();
    clearErrors();
    var spec = readForm();
    if (!spec) return;
    createButton.disabled = true;
    createButton.textContent = 'Creating…';
    var result = await h.api('POST', 'rules', spec);
    createButton.disabled = false;
    createButton.textContent = 'Create rule';
    if (result.status === 201) {
      form.reset();
      h.banner(bannerNode, 'success', 'Rule “' + result.body.name + '” created.');
      await loadRules();
      return;
    }
    if (result.status === 422 && result.body && Array.isArray(result.body.errors)) {
      showErrors(result.body.errors);
      return;
    }
    h.banner(formBanner, 'error', h.failure(result));
  }

  /* ---- Live preview ------------------------------------------------------------------ */

  var previewTimer = null;
  var previewSequence = 0;

  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, 250);
  }

  async function preview() {
    if (kind() !== 'comment' || !eventSelect.value) return;
    var sequence = ++previewSequence;
    var result = await h.api('POST', 'rules/preview', {
      template: templateInput.value,
      event: eventSelect.value,
      action: actionType.value,
    });
    if (sequence !== previewSequence) return;
    if (!result.ok) {
      previewOutput.hidden = true;
      previewError.hidden = false;
      previewError.textContent = h.failure(result);
      return;
    }
    previewSample.textContent = 'sample ' + result.body.sampleEvent + ' payload';
    var failed = typeof result.body.error === 'string';
    previewOutput.hidden = failed;
    previewError.hidden = !failed;
    previewOutput.textContent = failed ? '' : result.body.text || '(empty)';
    previewError.textContent = failed ? result.body.error : '';
    h.resize();
  }

  /* ---- Wiring ------------------------------------------------------------------------ */

  form.addEventListener('submit', submit);
  form.addEventListener('reset', resetForm);
  form.addEventListener('input', function (event) {
    var holder = event.target.closest('.has-error');
    if (holder) holder.classList.remove('has-error');
  });
  document.getElementById('add-condition').addEventListener('click', addCondition);
  actionType.addEventListener('change', showActionFields);
  eventSelect.addEventListener('change', schedulePreview);
  templateInput.addEventListener('input', schedulePreview);

  showActionFields();

  /* A page whose form and list are filled in by script (the Forge Custom UI page) starts the
     form and loads the list once they are. */
  h.rulesPage = {
    start: function () {
      form.reset();
      showActionFields();
      return loadRules();
    },
  };
})();
