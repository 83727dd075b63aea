/* hookline activity: what the rules did on one issue or page, or on the whole site. */
(function () {
  'use strict';
  var h = window.hookline;
  var root = document.getElementById('activity');
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
  var siteWide = !root.dataset.param;

  function ruleName(entry) {
    if (entry.ruleId === 0) return 'No rule matched';
    return entry.ruleName || 'Rule #' + entry.ruleId + ' (deleted)';
  }

  function entryItem(entry) {
    var status = STATUS[entry.status] || [entry.status, 'default'];
    var meta = [
      h.el('code', { className: 'event-name', textContent: entry.event }),
    ];
    if (siteWide) {
      meta.push(h.el('span', { className: 'activity-subject', textContent: entry.subject || 'no issue or page' }));
    }
    meta = meta.concat([
      h.el('time', {
        dateTime: entry.updatedAt,
        title: new Date(entry.updatedAt).toLocaleString(),
        textContent: h.relativeTime(entry.updatedAt),
      }),
    ]);
    if (entry.attempts > 1) {
      meta.push(h.el('span', { textContent: entry.attempts + ' attempts' }));
    }
    if (entry.resultId) {
      meta.push(h.el('span', { textContent: 'created #' + entry.resultId }));
    }
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
     events are being released, and the button that pauses or resumes (site admins). */
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
    h.resize();
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
    var query = new URLSearchParams();
    if (!siteWide) query.set(root.dataset.param, root.dataset.subject);
    var result = await h.api('GET', siteWide ? 'activity' : 'activity?' + query.toString());
    refresh.disabled = false;
    loading.hidden = true;
    if (!result.ok) {
      h.banner(bannerNode, 'error', h.failure(result));
      return;
    }
    h.banner(bannerNode, 'info', '');
    if (siteWide) showPause(result.body.pause);
    var entries = result.body.entries || [];
    list.replaceChildren.apply(list, entries.map(entryItem));
    list.hidden = entries.length === 0;
    empty.hidden = entries.length !== 0;
    h.resize();
  }

  refresh.addEventListener('click', load);
  pauseToggle.addEventListener('click', togglePause);
  load();
})();
