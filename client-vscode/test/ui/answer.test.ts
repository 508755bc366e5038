/**
 * The extension in a real VS Code (code-server) in a real browser (Chromium): the built .vsix is
 * installed, a fixture repository opened, "Ask about this repository" run from the command palette
 * against the real Python server with scripted models; the answer panel shows the answer with
 * verified and unverified citations, a click on a citation opens the cited file at the cited line,
 * and the trace view shows the run. Then a follow-up plan from the panel, "Explain symbol at
 * cursor" from the editor, and Cancel on a run that would not end by itself. Screenshots go to
 * .ui-test/screenshots/.
 */

import assert from 'node:assert/strict';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FrameLocator, Page } from 'playwright-core';

import { ASK_QUESTION, type Fixture, PLAN_GOAL, SLOW_QUESTION, makeFixture, pythonForTests } from '../support/fixture';
import { CodeServer, STEP_MS, processesIn } from './codeServer';

const OUT = resolve(__dirname, '../../../.ui-test');
const SHOTS = join(OUT, 'screenshots');

describe('the extension in VS Code', { timeout: 12 * STEP_MS }, () => {
  let fixture: Fixture;
  let vscode: CodeServer;
  let page: Page;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    fixture = makeFixture('reporlm-ui-');
    const settings = {
      'reporlm.pythonPath': pythonForTests(),
      'reporlm.serverOptions': { provider: 'scripted', script: fixture.script },
    };
    vscode = new CodeServer({ scratch: join(fixture.dir, 'vscode'), folder: fixture.repo, settings });
    await vscode.start();
    page = await vscode.open();
  });

  after(async () => {
    await page?.screenshot({ path: join(SHOTS, 'last.png') }).catch(() => undefined);
    await vscode?.stop();
    const left = processesIn(fixture.repo);
    // VS Code's logs (the extension's output channel included) and the run traces, for a failed run.
    rmSync(join(OUT, 'logs'), { recursive: true, force: true });
    cpSync(join(fixture.dir, 'vscode/user-data/logs'), join(OUT, 'logs/vscode'), { recursive: true, force: true });
    cpSync(join(fixture.dir, 'vscode/logs'), join(OUT, 'logs'), { recursive: true, force: true });
    cpSync(join(fixture.dir, 'vscode/reporlm-cache/traces'), join(OUT, 'logs/traces'), { recursive: true, force: true });
    if (!process.env.REPORLM_UI_KEEP) {
      rmSync(fixture.dir, { recursive: true, force: true });
    }
    assert.deepEqual(left, [], 'no process is left running in the fixture repository');
  });

  it('starts the server and shows the index in the status bar', async () => {
    await page.locator('.statusbar-item', { hasText: 'reporlm: ready, 3 files' }).waitFor();
  });

  it('answers from the command palette in the answer panel, citations linked and checked', async () => {
    await runCommand(page, 'reporlm: Ask about this repository');
    const input = page.locator('.quick-input-widget input');
    await input.fill(ASK_QUESTION);
    await input.press('Enter');

    const panel = answerPanel(page);
    const verified = panel.locator('a.cite.verified');
    await verified.first().waitFor();
    assert.deepEqual(await verified.evaluateAll((as) => as.map((a) => a.textContent)), ['calc.py:1-3', 'app.py:5']);
    const unverified = panel.locator('a.cite.unverified');
    assert.equal(await unverified.count(), 1);
    assert.equal(await unverified.textContent(), 'util.py:4');
    assert.match((await panel.locator('.unverified-flag').getAttribute('title')) ?? '', /^Not verified: /);
    assert.equal(await panel.locator('section.entry h2').textContent(), ASK_QUESTION);
    assert.match((await panel.locator('.meta').textContent()) ?? '', /2 iterations/);

    await page.screenshot({ path: join(SHOTS, 'answer-panel.png') });
  });

  it('opens the cited file at the cited line when a citation is clicked', async () => {
    await answerPanel(page).locator('a.cite.verified', { hasText: 'app.py:5' }).click();
    await page.locator('.tab.active', { hasText: 'app.py' }).waitFor();
    const position = page.locator('#status\\.editor\\.selection');
    await position.filter({ hasText: /Ln 5, Col 1\b/ }).waitFor();
    const line = page.locator('.monaco-editor .view-line', { hasText: 'print(add(2, 3))' });
    await line.waitFor();
    await page.screenshot({ path: join(SHOTS, 'citation-opened.png') });
  });

  it('shows the run in the trace view', async () => {
    await runCommand(page, 'reporlm: Show trace');
    const tree = page.locator('.monaco-list[aria-label="Trace"]');
    await tree.locator('.monaco-list-row', { hasText: ASK_QUESTION }).waitFor();
    await tree.locator('.monaco-list-row', { hasText: 'Iteration 1' }).waitFor();
    await tree.locator('.monaco-list-row', { hasText: 'Final answer' }).waitFor();
    // The trace, the answer and the cited file side by side: the picture README shows.
    await page.mouse.move(600, 500);
    await page.screenshot({ path: join(SHOTS, 'trace-answer-citation.png') });
  });
  it('plans a change from the panel as a follow-up, as a checklist', async () => {
    const panel = answerPanel(page);
    await panel.locator('#kind').selectOption('plan');
    await panel.locator('#question').fill(PLAN_GOAL);
    await panel.locator('#question').press('Enter');
    const entry = panel.locator('section.entry[data-kind="plan"]');
    await entry.locator('li.plan-step').nth(1).waitFor();
    assert.deepEqual(await entry.locator('li.plan-step .step-title').allTextContents(), ['Change the signature', 'Update the caller']);
    await entry.locator('input.step-done').first().check();
    assert.ok(await entry.locator('.unverified-ref', { hasText: 'subtract' }).isVisible());
    assert.equal(await panel.locator('section.entry').count(), 2, 'the history keeps the first answer');
  });

  it('explains the symbol under the cursor', async () => {
    await page.locator('.tab', { hasText: 'app.py' }).click();
    await page.keyboard.press('Control+G');
    await page.locator('.quick-input-widget input').fill(':5:11');
    await page.locator('.quick-input-widget input').press('Enter');
    await page.locator('#status\\.editor\\.selection', { hasText: /Ln 5, Col 11\b/ }).waitFor();
    await runCommand(page, 'reporlm: Explain symbol at cursor');
    const entry = answerPanel(page).locator('section.entry[data-kind="explain"]');
    await entry.locator('h2', { hasText: 'add at app.py:5' }).waitFor();
    await entry.locator('a.cite.verified', { hasText: 'calc.py:1-3' }).waitFor();
  });

  it('cancels a running question and shows it as cancelled', async () => {
    await runCommand(page, 'reporlm: Ask about this repository');
    await page.locator('.quick-input-widget input').fill(SLOW_QUESTION);
    await page.locator('.quick-input-widget input').press('Enter');
    const entry = answerPanel(page).locator('section.entry', { hasText: SLOW_QUESTION });
    await entry.locator('.progress', { hasText: /iteration 1\/30/ }).waitFor();
    await entry.locator('button.cancel').click();
    await entry.locator('.badge.cancelled').waitFor();
    assert.match((await entry.locator('.answer').textContent()) ?? '', /No final answer: the run stopped \(cancelled\)/);
    await page.screenshot({ path: join(SHOTS, 'cancelled.png') });
  });

  it('says how to install reporlm when the chosen Python lacks it', async () => {
    // Set in the Settings editor, as a user would. Debian's python3 (a UI tools dependency) has no reporlm.
    await runCommand(page, 'Preferences: Open User Settings');
    await page.locator('.settings-editor').waitFor();
    await page.keyboard.type('reporlm.pythonPath');
    // A machine setting: in code-server it lives in the Remote settings (the file the test wrote).
    await page.locator('.settings-editor .action-label', { hasText: 'Remote' }).click();
    const field = page.locator('.settings-editor .setting-item-contents', { hasText: 'Python Path' }).locator('input');
    await field.fill('/usr/bin/python3');
    await field.press('Enter');
    const toast = page.locator('.notification-toast', { hasText: 'reporlm is not installed for /usr/bin/python3' });
    await toast.waitFor();
    assert.match((await toast.textContent()) ?? '', /Install it with: \/usr\/bin\/python3 -m pip install reporlm/);
    await toast.locator('.monaco-button', { hasText: 'Copy install command' }).waitFor();
    await page.locator('.statusbar-item', { hasText: 'reporlm: stopped' }).waitFor();
  });
});

async function runCommand(page: Page, title: string): Promise<void> {
  // Webviews hand F1 on to the workbench, so this works wherever the focus is.
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
  await input.press('Enter');
}

/** The answer panel's content: VS Code nests a webview's page in two iframes. */
function answerPanel(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
}

