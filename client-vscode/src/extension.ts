/** Wiring: the server client, status bar, trace view, answer panel and the user's commands. */

import * as vscode from 'vscode';

import { isSafeRelativePath, relativePath } from './citations';
import { ServerClient } from './client';
import { CONFIG_SECTION, Commands, SECRET_KEYS, Views } from './constants';
import { chooseFolder } from './folders';
import { AnswerPanel } from './panel';
import type { CitationRequest } from './panelProtocol';
import { onInterpreterChange } from './python';
import { Runner } from './runner';
import { RESTART_SETTINGS, SERVER_SETTINGS } from './settings';
import { StatusBar } from './status';
import { describeStatus } from './statusText';
import { TraceView } from './traceView';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('reporlm', { log: true });
  const server = new ServerClient(context.secrets, log);
  const status = new StatusBar();
  const trace = new TraceView();
  const panel = new AnswerPanel(context.extensionUri, {
    ask: (kind, text) => void followUp(runner, kind, text),
    open: (citation) => void openCitation(runner.folderOf(citation.entry) ?? server.folder, panel, citation),
    cancel: (id) => runner.cancel(id),
  });
  const runner = new Runner(server, panel, trace, status);
  const treeView = vscode.window.createTreeView(Views.trace, { treeDataProvider: trace, showCollapseAll: true });

  context.subscriptions.push(
    log,
    server,
    status,
    trace,
    treeView,
    panel,
    runner,
    server.onDidChangeState((state) => {
      status.setServer(state);
      if (state.kind === 'running') {
        void runner.refreshStatus();
      }
    }),
    register(Commands.ask, () => askCommand(runner)),
    register(Commands.askFolder, (folderUri?: vscode.Uri) => askCommand(runner, folderUri)),
    register(Commands.plan, () => planCommand(runner)),
    register(Commands.explain, () => explainCommand(runner)),
    register(Commands.showTrace, () => vscode.commands.executeCommand(`${Views.trace}.focus`)),
    register(Commands.showAnswers, () => panel.show(false)),
    register(Commands.showStatus, () => showStatus(server, runner)),
    register(Commands.restartServer, () => server.restart()),
    register(Commands.setApiKey, () => setApiKey(context.secrets)),
    register(Commands.clearTrace, () => trace.clear()),
    register(Commands.showLog, () => log.show()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (RESTART_SETTINGS.some((s) => e.affectsConfiguration(s))) {
        void server.restart();
      } else if (SERVER_SETTINGS.some((s) => e.affectsConfiguration(s))) {
        void server.sendSettings();
      }
    }),
    context.secrets.onDidChange((e) => {
      if (e.key.startsWith(`${CONFIG_SECTION}.apiKey.`) && server.state.kind === 'running') {
        // The key reaches the server through its environment, so it needs a new process.
        void server.restart();
      }
    }),
    // A running server hears of added and removed folders from the language client itself.
    vscode.workspace.onDidChangeWorkspaceFolders(() => {
      if (server.state.kind !== 'running' && server.folder) {
        void server.ensureStarted().catch(() => undefined);
      }
    }),
  );
  void onInterpreterChange(() => {
    if (!vscode.workspace.getConfiguration(CONFIG_SECTION).get<string>('pythonPath')) {
      void server.restart();
    }
  }).then((d) => d && context.subscriptions.push(d));

  if (server.folder) {
    void server.ensureStarted().catch(() => undefined);
  }
}

export function deactivate(): void {
  // Everything is in context.subscriptions; disposing the client stops the server.
}

function register(id: string, fn: (...args: never[]) => unknown): vscode.Disposable {
  return vscode.commands.registerCommand(id, fn);
}

async function askCommand(runner: Runner, scopeUri?: vscode.Uri): Promise<void> {
  const folder = await chooseFolder(scopeUri);
  if (!folder) {
    return;
  }
  const scope = scopeUri ? relativePath(folder.uri.toString(), scopeUri.toString()) : undefined;
  const editor = vscode.window.activeTextEditor;
  let value = '';
  if (!scope && editor && !editor.selection.isEmpty) {
    const path = relativePath(folder.uri.toString(), editor.document.uri.toString());
    const { start, end } = editor.selection;
    if (path) {
      value = `About ${path}:${start.line + 1}-${end.line + 1}: `;
    }
  }
  const several = (vscode.workspace.workspaceFolders?.length ?? 0) > 1;
  const question = await vscode.window.showInputBox({
    title: scope ? `Ask about ${scope}` : several ? `Ask about ${folder.name}` : 'Ask about this repository',
    prompt: 'reporlm explores the repository with code and cites path:line in its answer',
    placeHolder: 'How does a request reach the database?',
    value,
    valueSelection: [value.length, value.length],
    ignoreFocusOut: true,
  });
  if (question?.trim()) {
    await runner.ask(question.trim(), folder, scope);
  }
}

async function planCommand(runner: Runner): Promise<void> {
  const folder = await chooseFolder();
  if (!folder) {
    return;
  }
  const several = (vscode.workspace.workspaceFolders?.length ?? 0) > 1;
  const goal = await vscode.window.showInputBox({
    title: several ? `Plan a change in ${folder.name}` : 'Plan a change',
    prompt: 'reporlm reads the code and answers with ordered steps that link to files and symbols',
    placeHolder: 'Add a --json flag to the export command',
    ignoreFocusOut: true,
  });
  if (goal?.trim()) {
    await runner.plan(goal.trim(), folder);
  }
}

/** A question typed in the answer panel: about the folder of the latest answer, else as a new one. */
async function followUp(runner: Runner, kind: 'ask' | 'plan', text: string): Promise<void> {
  // Still open? A folder removed from the workspace is asked about no more.
  const last = runner.lastFolder && vscode.workspace.getWorkspaceFolder(runner.lastFolder.uri);
  const folder = last ?? (await chooseFolder());
  if (folder) {
    await (kind === 'plan' ? runner.plan(text, folder) : runner.ask(text, folder));
  }
}

async function explainCommand(runner: Runner): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showWarningMessage('reporlm: put the cursor on a symbol in an editor first.');
    return;
  }
  const position = editor.selection.active;
  const word = editor.document.getText(editor.document.getWordRangeAtPosition(position));
  // The document's folder; outside every folder, the server says which folders it has.
  const folder = vscode.workspace.getWorkspaceFolder(editor.document.uri);
  const where = folder ? relativePath(folder.uri.toString(), editor.document.uri.toString()) : undefined;
  const title = `${word || 'symbol'}${where ? ` at ${where}:${position.line + 1}` : ''}`;
  await runner.explain(
    title,
    { uri: editor.document.uri.toString(), position: { line: position.line, character: position.character } },
    folder,
  );
}

async function showStatus(server: ServerClient, runner: Runner): Promise<void> {
  if (server.state.kind !== 'running') {
    try {
      await server.ensureStarted();
    } catch {
      const choice = await vscode.window.showErrorMessage(
        server.state.kind === 'failed' ? server.state.message : 'The reporlm server is not running.',
        'Restart',
        'Show log',
      );
      if (choice === 'Restart') {
        await server.restart();
      } else if (choice === 'Show log') {
        server.log.show();
      }
      return;
    }
  }
  const status = await runner.refreshStatus();
  if (status !== undefined) {
    await vscode.window.showInformationMessage('reporlm server status', {
      modal: true,
      detail: describeStatus(status).join('\n'),
    });
  }
}

async function setApiKey(secrets: vscode.SecretStorage): Promise<void> {
  const provider = await vscode.window.showQuickPick(
    Object.keys(SECRET_KEYS).map((p) => ({ label: p, description: SECRET_KEYS[p].env })),
    { title: 'Set API key: which provider?' },
  );
  if (!provider) {
    return;
  }
  const { secret } = SECRET_KEYS[provider.label];
  const key = await vscode.window.showInputBox({
    title: `API key for ${provider.label}`,
    prompt: 'Kept in VS Code secret storage and given to the reporlm server only; empty removes it',
    password: true,
    ignoreFocusOut: true,
  });
  if (key === undefined) {
    return;
  }
  if (key.trim()) {
    await secrets.store(secret, key.trim());
    void vscode.window.showInformationMessage(`reporlm: ${provider.label} API key saved.`);
  } else {
    await secrets.delete(secret);
    void vscode.window.showInformationMessage(`reporlm: ${provider.label} API key removed.`);
  }
}

async function openCitation(
  folder: vscode.WorkspaceFolder | undefined,
  panel: AnswerPanel,
  c: CitationRequest,
): Promise<void> {
  const start = Number(c.start);
  const end = Number(c.end);
  if (!folder || typeof c.path !== 'string' || !isSafeRelativePath(c.path) || !(start >= 1) || !(end >= start)) {
    return;
  }
  const uri = vscode.Uri.joinPath(folder.uri, ...c.path.split('/'));
  let document: vscode.TextDocument;
  try {
    document = await vscode.workspace.openTextDocument(uri);
  } catch {
    void vscode.window.showWarningMessage(`reporlm: cannot open ${c.path}: it is not in the workspace.`);
    return;
  }
  const last = document.lineCount - 1;
  const first = Math.min(start - 1, last);
  const stop = Math.min(end - 1, last);
  const column = panel.viewColumn === vscode.ViewColumn.One ? vscode.ViewColumn.Two : vscode.ViewColumn.One;
  const editor = await vscode.window.showTextDocument(document, { viewColumn: column, preview: true });
  // The cited lines selected, with the cursor on the first of them: that is what "open at" means.
  editor.selection = new vscode.Selection(stop, document.lineAt(stop).text.length, first, 0);
  editor.revealRange(editor.selection, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
}
