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
  var pauseToggle = document.getElementById('pause-toggle');
  var pauseBanner = document.getElementById('pause-banner');
  /* Whether the site is paused, as the last answer said (site-wide view only). */
  var paused = false;

  var STATUS = {
    done: ['Done', 'success'],
    pending: ['Pending', 'inprogress'],
    dead: ['Failed', 'removed'],
    no_match: ['No match', 'default'],
    skipped: ['Skipped', 'moved'],
    stale: ['Stale', 'default'],
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

  /* The site's pause (the site-wide answer's `pause`): a banner while paused or while held
     events are being released, and the button that pauses or resumes (site admins). The
     Connect page's own wording (ingress/static/activity.js). */
  function showPause(pause) {
    if (!pause) return;
    paused = pause.paused;
    var text = '';
    if (paused) {
      text = 'hookline is paused on this site since ' + new Date(pause.pausedAt).toLocaleString() +
        ': its events are still received, but held and not acted on until it is resumed (' +
        pause.held + ' held so far).';
    } else if (pause.held > 0) {
      text = 'hookline was resumed: ' + pause.held + (pause.held === 1 ? ' held event is' : ' held events are') +
        ' being released, oldest first.';
    }
    pauseBanner.textContent = text;
    pauseBanner.hidden = !text;
    pauseToggle.textContent = paused ? 'Resume' : 'Pause';
    pauseToggle.title = paused
      ? 'Act on this site\'s events again and release the held ones'
      : 'Hold this site\'s events (none is lost) until it is resumed';
    pauseToggle.hidden = false;
  }

  async function togglePause() {
    pauseToggle.disabled = true;
    var result = await h.api('POST', paused ? 'resume' : 'pause');
    pauseToggle.disabled = false;
    if (!result.ok) {
      var code = result.body && result.body.code;
      h.banner(bannerNode, 'error', code === 'not_admin' || code === 'no_user'
        ? 'Only site administrators can pause or resume hookline.'
        : h.failure(result));
      return;
    }
    h.banner(bannerNode, 'info', '');
    showPause(result.body);
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
    if (!subject) showPause(result.body.pause);
    var entries = result.body.entries || [];
    list.replaceChildren.apply(list, entries.map(entryItem));
    list.hidden = entries.length === 0;
    empty.hidden = entries.length !== 0;
  }

  refresh.addEventListener('click', load);
  pauseToggle.addEventListener('click', togglePause);

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
