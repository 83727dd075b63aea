#!/usr/bin/env node
// Drives hookline's Forge Custom UI rules page (forge-ui/rules/index.html) in a real headless
// Chromium, with a stand-in for the bridge Forge injects into Custom UI iframes
// (window.__bridge.callBridge). Run by ingress/tests/forge_ui_browser.rs:
//
//   node forge.js PAGE_URL CONTEXT_JSON SCREENSHOT_DIR
//
// PAGE_URL is served by the test's stand-in Forge host, which also answers POST /invoke: it
// turns an invokeRemote payload into a call to the test ingress with a freshly minted Forge
// Invocation Token, as Forge does. callBridge('getContext') answers CONTEXT_JSON. Every request
// that leaves 127.0.0.1 is aborted; the run fails on any page error or CSP violation.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const [pageUrl, contextJson, outDir] = process.argv.slice(2);
if (!pageUrl || !contextJson || !outDir) {
  console.error('usage: node forge.js PAGE_URL CONTEXT_JSON SCREENSHOT_DIR');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 15000;
const problems = [];

function step(text) {
  console.log('-- ' + text);
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

async function watch(page) {
  page.on('pageerror', (error) => problems.push('page error: ' + error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) {
      problems.push('console: ' + message.text());
    }
  });
  // The stand-in bridge: what Forge's host page answers to @forge/bridge's calls.
  await page.addInitScript((context) => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (event) => {
      window.__cspViolations.push(event.violatedDirective + ' ' + event.blockedURI);
    });
    window.__bridgeCalls = [];
    window.__bridge = {
      callBridge: async (name, payload) => {
        window.__bridgeCalls.push(name + (payload && payload.invokeType ? ' ' + payload.invokeType : ''));
        if (name === 'getContext') return context;
        if (name !== 'invoke' || !payload || payload.invokeType !== 'ui-remote-fetch') {
          throw new Error('the stand-in bridge has no ' + name);
        }
        const response = await fetch('/invoke', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ path: payload.path, method: payload.method, body: payload.body }),
        });
        return response.json();
      },
    };
  }, JSON.parse(contextJson));
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1' || url.protocol === 'data:') return route.continue();
    problems.push('blocked a request leaving the machine: ' + url.href);
    return route.abort();
  });
}

async function rulesPage(context) {
  const page = await context.newPage();
  await watch(page);
  await page.setViewportSize({ width: 1180, height: 900 });

  step('open the Custom UI rules page');
  const response = await page.goto(pageUrl, { waitUntil: 'load' });
  if (response.status() !== 200) throw new Error('rules page: HTTP ' + response.status());
  await expectText(page.locator('#product-name'), /^Jira$/, 'the product from /forge/ui/site');
  await expectText(page.locator('#rules-body tr').first(), /Existing rule/, 'the listed rule');
  await expectText(page.locator('#preview-output'), /KAN-22/, 'the preview');

  step('fill in the form and create the rule');
  await page.fill('#rule-name', 'Welcome from Forge');
  await page.selectOption('#rule-event', 'jira:issue_created');
  await page.click('#add-condition');
  const condition = page.locator('#conditions .condition-row').nth(0);
  await condition.locator('.condition-type').selectOption('project_key');
  await condition.locator('[data-input="key"] input').fill('KAN');
  await page.selectOption('#action-type', 'jira_comment');
  await page.fill('#action-template', 'Welcome {{ issue.key }}, from Forge.');
  await expectText(page.locator('#preview-output'), /Welcome KAN-22, from Forge\./, 'the live preview');
  await page.click('#create-button');
  await expectText(page.locator('#banner'), /Rule “Welcome from Forge” created/, 'the banner');
  const row = page.locator('#rules-body tr', { hasText: 'Welcome from Forge' });
  await expectText(row, /project is KAN/, 'the new row');
  await expectText(page.locator('#rule-count'), /^2 rules$/, 'the count');

  step('disable the existing rule');
  const existing = page.locator('#rules-body tr', { hasText: 'Existing rule' });
  await existing.locator('button[data-act="toggle"]').click();
  await expectText(existing.locator('.lozenge'), /Disabled/, 'the disabled rule');

  const calls = await page.evaluate(() => window.__bridgeCalls);
  if (!calls.includes('invoke ui-remote-fetch')) throw new Error('the page never called invokeRemote: ' + calls);
  const violations = await page.evaluate(() => window.__cspViolations);
  violations.forEach((violation) => problems.push('CSP violation: ' + violation));
  await page.mouse.move(0, 0);
  await page.screenshot({ path: path.join(outDir, 'forge-rules.png'), fullPage: true });
  await page.close();
}

(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'hookline-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    deviceScaleFactor: 1,
  });
  let failed = null;
  try {
    await rulesPage(context);
  } catch (error) {
    failed = error;
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  if (failed) console.error('FAILED: ' + (failed.stack || failed));
  if (problems.length) console.error('PROBLEMS:\n' + problems.join('\n'));
  if (failed || problems.length) process.exit(1);
  console.log('ok');
})();
