/*
 * hookline activity (Forge Custom UI): what the rules did on one issue (jira:issuePanel) or
 * page (the Confluence byline item), or on the whole site (any other module), as the module's
 * context says (view.getContext(): extension.issue.key, extension.content.id).
 */
(function () {
  'use strict';
  var h = window.hookline;
  var list = document.getElementById('entries');
  var loading = document.getElementById('loading');
  var empty = document.getElementById('empty');
  var bannerNode = document.getElementById('banner');
  var refresh = document.getElementById('refresh');

  var STATUS = {
    done: ['Done', 'success'],
    pending: ['Pending', 'inprogress'],
    dead: ['Failed', 'removed'],
    no_match: ['No match', 'default'],
    skipped: ['Skipped', 'moved'],
  };
  /* {param, value, label}, or null for the whole site. */
  var subject = null;

  /* The issue or page the module is shown on, if any. */
  function subjectOf(context) {
    var extension = (context && context.extension) || {};
    var issueKey = extension.issue && extension.issue.key;
    if (issueKey) return { param: 'issueKey', value: String(issueKey), label: 'issue ' + issueKey, noun: 'issue' };
    var contentId = extension.content && extension.content.id;
    if (contentId) return { param: 'pageId', value: String(contentId), label: 'page ' + contentId, noun: 'page' };
    return null;
  }

  function ruleName(entry) {
    if (entry.ruleId === 0) return 'No rule matched';
    return entry.ruleName || 'Rule #' + entry.ruleId + ' (deleted)';
  }

  function entryItem(entry) {
    var status = STATUS[entry.status] || [entry.status, 'default'];
    var meta = [h.el('code', { className: 'event-name', textContent: entry.event })];
    if (!subject) {
      meta.push(h.el('span', { className: 'activity-subject', textContent: entry.subject || 'no issue or page' }));
    }
    meta.push(h.el('time', {
      dateTime: entry.updatedAt,
      title: new Date(entry.updatedAt).toLocaleString(),
      textContent: h.relativeTime(entry.updatedAt),
    }));
    if (entry.attempts > 1) meta.push(h.el('span', { textContent: entry.attempts + ' attempts' }));
    if (entry.resultId) meta.push(h.el('span', { textContent: 'created #' + entry.resultId }));
    var metaLine = h.el('div', { className: 'activity-meta' });
    meta.forEach(function (part, index) {
      if (index > 0) metaLine.append(h.el('span', { className: 'dot', textContent: '·' }));
      metaLine.append(part);
    });
    return h.el('li', { className: 'activity-item activity-' + entry.status }, [
      h.el('div', { className: 'activity-main' }, [
        h.lozenge(status[0], status[1]),
        h.el('span', { className: 'activity-rule' + (entry.ruleId === 0 ? ' subtle' : ''), textContent: ruleName(entry) }),
      ]),
      metaLine,
      entry.error ? h.el('p', { className: 'activity-error', textContent: entry.error }) : null,
    ]);
  }

  async function load() {
    refresh.disabled = true;
    var path = 'activity';
    if (subject) path += '?' + new URLSearchParams([[subject.param, subject.value]]).toString();
    var result = await h.api('GET', path);
    refresh.disabled = false;
    loading.hidden = true;
    if (!result.ok) {
      h.banner(bannerNode, 'error', h.failure(result));
      return;
    }
    h.banner(bannerNode, 'info', '');
    var entries = result.body.entries || [];
    list.replaceChildren.apply(list, entries.map(entryItem));
    list.hidden = entries.length === 0;
    empty.hidden = entries.length !== 0;
  }

  refresh.addEventListener('click', load);

  (async function start() {
    try {
      subject = subjectOf(await h.getContext());
    } catch (error) {
      loading.hidden = true;
      h.banner(bannerNode, 'error', error.message);
      return;
    }
    document.getElementById('subject-label').textContent = subject ? subject.label : 'this site';
    empty.textContent = subject
      ? 'Nothing yet: no event about this ' + subject.noun + ' has reached hookline.'
      : 'Nothing yet: no event from this site has reached hookline.';
    await load();
  })();
})();
