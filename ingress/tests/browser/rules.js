#!/usr/bin/env node
// Drives hookline's rules page and activity panel in a real headless Chromium, as a user in
// Jira would, and writes a screenshot of each. Run by ingress/tests/ui_browser.rs:
//
//   node rules.js RULES_URL ACTIVITY_URL SCREENSHOT_DIR
//
// The browser is the system's (CHROMIUM, default /usr/bin/chromium): playwright-core never
// downloads one. Every request that leaves 127.0.0.1 is aborted. The run fails on any page
// error or Content-Security-Policy violation.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const [rulesUrl, activityUrl, outDir] = process.argv.slice(2);
if (!rulesUrl || !activityUrl || !outDir) {
  console.error('usage: node rules.js RULES_URL ACTIVITY_URL SCREENSHOT_DIR');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 15000;

const problems = [];

function step(text) {
  console.log('-- ' + text);
}

async function watch(page) {
  page.on('pageerror', (error) => problems.push('page error: ' + error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) {
      problems.push('console: ' + message.text());
    }
  });
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (event) => {
      window.__cspViolations.push(event.violatedDirective + ' ' + event.blockedURI);
    });
  });
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1' || url.protocol === 'data:') {
      return route.continue();
    }
    problems.push('blocked a request leaving the machine: ' + url.href);
    return route.abort();
  });
}

async function cspViolations(page) {
  const violations = await page.evaluate(() => window.__cspViolations);
  violations.forEach((violation) => problems.push('CSP violation: ' + violation));
}

/* Waits until `locator` is visible and its text matches `pattern`. */
async function expectText(locator, pattern, what) {
  await locator.waitFor({ state: 'visible', timeout: TIMEOUT });
  const deadline = Date.now() + TIMEOUT;
  let text = '';
  while (Date.now() < deadline) {
    text = (await locator.textContent()) || '';
    if (pattern.test(text)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(what + ': expected ' + pattern + ', got ' + JSON.stringify(text));
}

async function rulesPage(context) {
  const page = await context.newPage();
  await watch(page);
  await page.setViewportSize({ width: 1180, height: 900 });

  step('open the rules page');
  const response = await page.goto(rulesUrl, { waitUntil: 'load' });
  if (response.status() !== 200) throw new Error('rules page: HTTP ' + response.status());
  await expectText(page.locator('h1'), /Rules/, 'the title');

  step('a rule name with markup shows as text and runs nothing');
  await expectText(page.locator('#rules-body tr').first(), /<img src=x onerror=/, 'the hostile rule name');
  if (await page.evaluate(() => window.__xss !== undefined)) throw new Error('markup in a rule name ran');

  step('the live preview renders the default template');
  await expectText(page.locator('#preview-output'), /KAN-22/, 'the preview');

  step('a rule without a name gets errors next to its fields');
  await page.click('#add-condition');
  const first = page.locator('#conditions .condition-row').nth(0);
  await first.locator('.condition-type').selectOption('equals');
  await first.locator('[data-input="pointer"] input').fill('issue/fields/priority/name');
  await first.locator('[data-input="value"] input').fill('High');
  await page.click('#create-button');
  await expectText(page.locator('[data-error-for="name"]'), /1 to 200 characters/, 'the name error');
  await expectText(first.locator('[data-error-for="pointer"]'), /JSON pointer/, 'the pointer error');
  await page.locator('#rule-form').screenshot({ path: path.join(outDir, 'rules-validation.png') });

  step('disable the hostile rule');
  const hostile = page.locator('#rules-body tr', { hasText: '<img src=x' });
  await hostile.locator('button[data-act="toggle"]').click();
  await expectText(hostile.locator('.lozenge'), /Disabled/, 'the disabled rule');

  step('fill in the rule, with a template error first and then a good template');
  await page.fill('#rule-name', 'Welcome new issues');
  await page.selectOption('#rule-event', 'jira:issue_created');
  await first.locator('[data-input="pointer"] input').fill('/issue/fields/priority/name');
  await page.click('#add-condition');
  const second = page.locator('#conditions .condition-row').nth(1);
  await second.locator('.condition-type').selectOption('project_key');
  await second.locator('[data-input="key"] input').fill('KAN');
  await page.selectOption('#action-type', 'jira_comment');
  await page.fill('#action-template', 'Thanks {{ user.displayName }! {{ issue.key }}');
  await expectText(page.locator('#preview-error'), /syntax error/, 'the template error');
  await page.fill(
    '#action-template',
    'Thanks {{ user.displayName }}! {{ issue.key }} "{{ issue.fields.summary }}" is queued for triage.',
  );
  await expectText(page.locator('#preview-output'), /Thanks Sirajudheen MK! KAN-22/, 'the preview');

  step('create it and see it listed');
  await page.click('#create-button');
  await expectText(page.locator('#banner'), /Rule “Welcome new issues” created/, 'the banner');
  const row = page.locator('#rules-body tr', { hasText: 'Welcome new issues' });
  await expectText(row, /project is KAN/, 'the new row');
  await expectText(row.locator('.lozenge'), /Enabled/, 'the new rule status');
  const name = await page.inputValue('#rule-name');
  if (name !== '') throw new Error('the form was not reset after creating: ' + name);
  await expectText(page.locator('#rule-count'), /^3 rules$/, 'the count');
  await expectText(page.locator('#preview-output'), /Thanks for reporting KAN-22/, 'the reset preview');
  // Nothing hovered in the screenshot.
  await page.mouse.move(0, 0);

  await cspViolations(page);
  await page.screenshot({ path: path.join(outDir, 'rules.png'), fullPage: true });
  await page.close();
}

async function activityPanel(context) {
  const page = await context.newPage();
  await watch(page);
  // About the width of Jira's issue side panel.
  await page.setViewportSize({ width: 380, height: 560 });

  step('open the activity panel');
  const response = await page.goto(activityUrl, { waitUntil: 'load' });
  if (response.status() !== 200) throw new Error('activity panel: HTTP ' + response.status());
  await page.locator('#entries li').nth(2).waitFor({ timeout: TIMEOUT });
  const items = await page.locator('#entries li').count();
  if (items !== 3) throw new Error('activity: expected 3 rows, got ' + items);
  await expectText(page.locator('#entries li').nth(0), /Failed/, 'the newest row');
  await expectText(page.locator('#entries'), /No rule matched/, 'the no-match row');

  await cspViolations(page);
  await page.screenshot({ path: path.join(outDir, 'activity.png'), fullPage: true });
  await page.close();
}

(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'hookline-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    deviceScaleFactor: 1,
  });
  let failed = null;
  try {
    await rulesPage(context);
    await activityPanel(context);
  } catch (error) {
    failed = error;
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  if (failed) {
    console.error('FAILED: ' + (failed.stack || failed));
  }
  if (problems.length) {
    console.error('PROBLEMS:\n' + problems.join('\n'));
  }
  if (failed || problems.length) process.exit(1);
  console.log('ok');
})();
