/**
 * The answer panel: a webview with a strict content-security policy (no remote content, scripts
 * only with a per-load nonce) that keeps the session's questions and answers, shows a running
 * question's progress, and turns citation clicks into "open the file at those lines". Follow-up
 * questions typed at the bottom go to the same server session.
 */

import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

import type { CitationRequest, EntryView, PanelMessage } from './panelProtocol';

export type { EntryView } from './panelProtocol';

export interface PanelHandlers {
  ask(kind: 'ask' | 'plan', text: string): void;
  open(citation: CitationRequest): void;
  cancel(id: number): void;
}

export class AnswerPanel implements vscode.Disposable {
  static readonly viewType = 'reporlm.answers';
  private panel: vscode.WebviewPanel | undefined;
  private readonly entries: EntryView[] = [];
  private nextId = 1;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly handlers: PanelHandlers,
  ) {}

  /** The column the panel is in, so files open next to it rather than over it. */
  get viewColumn(): vscode.ViewColumn | undefined {
    return this.panel?.viewColumn;
  }

  show(preserveFocus = true): void {
    if (this.panel) {
      this.panel.reveal(undefined, preserveFocus);
      return;
    }
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    const panel = vscode.window.createWebviewPanel(
      AnswerPanel.viewType,
      'reporlm answers',
      // Beside the code being read; alone in the window when no editor is open.
      { viewColumn: vscode.window.activeTextEditor ? vscode.ViewColumn.Beside : vscode.ViewColumn.Active, preserveFocus },
      { enableScripts: true, enableCommandUris: false, localResourceRoots: [media], retainContextWhenHidden: true },
    );
    panel.iconPath = vscode.Uri.joinPath(media, 'reporlm.svg');
    panel.webview.html = this.html(panel.webview, media);
    panel.webview.onDidReceiveMessage((m: PanelMessage) => this.receive(m), undefined, this.disposables);
    panel.onDidDispose(() => {
      this.panel = undefined;
    }, undefined, this.disposables);
    this.panel = panel;
  }

  /** Adds a question to the history and shows it as running; returns its id. */
  add(kind: EntryView['kind'], title: string): number {
    const entry: EntryView = { id: this.nextId++, kind, title, state: 'running', progress: 'starting…', html: '', meta: '', version: 0 };
    this.entries.push(entry);
    this.show();
    this.post();
    return entry.id;
  }

  update(id: number, patch: Partial<Omit<EntryView, 'id' | 'version'>>): void {
    const entry = this.entries.find((e) => e.id === id);
    if (entry) {
      Object.assign(entry, patch);
      entry.version++;
      this.post();
    }
  }

  dispose(): void {
    this.panel?.dispose();
    for (const d of this.disposables) {
      d.dispose();
    }
  }

  private receive(message: PanelMessage): void {
    switch (message.type) {
      case 'ready':
        this.post();
        break;
      case 'open':
        this.handlers.open(message);
        break;
      case 'ask':
        if (message.text.trim()) {
          this.handlers.ask(message.kind, message.text.trim());
        }
        break;
      case 'cancel':
        this.handlers.cancel(message.id);
        break;
    }
  }

  private post(): void {
    void this.panel?.webview.postMessage({ type: 'entries', entries: this.entries });
  }

  private html(webview: vscode.Webview, media: vscode.Uri): string {
    const nonce = randomBytes(16).toString('base64');
    const csp = [
      "default-src 'none'",
      `style-src ${webview.cspSource}`,
      `font-src ${webview.cspSource}`,
      `img-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
    ].join('; ');
    const css = webview.asWebviewUri(vscode.Uri.joinPath(media, 'panel.css'));
    const js = webview.asWebviewUri(vscode.Uri.joinPath(media, 'panel.js'));
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${css}">
<title>reporlm answers</title>
</head>
<body>
<main id="entries" aria-live="polite"></main>
<p id="empty" class="empty">Ask about this repository: the answer appears here, each <code>path:line</code> a link to the code.</p>
<form id="ask" class="ask">
  <textarea id="question" rows="2" placeholder="Ask a follow-up question (Enter to send, Shift+Enter for a new line)" aria-label="Question"></textarea>
  <div class="ask-actions">
    <select id="kind" aria-label="Kind"><option value="ask">Ask</option><option value="plan">Plan a change</option></select>
    <button type="submit" id="send">Send</button>
  </div>
</form>
<script nonce="${nonce}" src="${js}"></script>
</body>
</html>`;
  }
}
