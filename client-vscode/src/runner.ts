/**
 * Runs ask / plan / explain: a history entry in the answer panel, a cancellable notification with
 * live step messages (the server's work-done progress; the status bar sums up the trace), and the result
 * rendered with its citations. Cancel sends both `$/cancelRequest` and a progress cancel; the
 * server stops the run and answers the request with the partial result.
 */

import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import {
  ResponseError,
  WorkDoneProgress,
  WorkDoneProgressCancelNotification,
  type WorkDoneProgressBegin,
  type WorkDoneProgressReport,
} from 'vscode-languageclient/node';

import { CitationIndex } from './citations';
import type { ServerClient } from './client';
import { ServerCommands } from './constants';
import type { AnswerPanel } from './panel';
import type { EntryView } from './panelProtocol';
import type { AskParams, AskResult, ExplainParams, PlanParams, PlanResult, StatusResult } from './protocol';
import { createMarkdown, describeRun, renderAnswer, renderPlan } from './render';
import type { StatusBar } from './status';
import { indexSettled } from './statusText';
import { folderSuffix } from './folders';
import { describeProgress } from './traceModel';
import type { TraceView } from './traceView';

/** Application error codes of the server (server/reporlm/lsp/wire.py ErrorCodes). */
const ErrorCodes = { configuration: 1001, provider: 1002, busy: 1003, sandbox: 1004, requestCancelled: -32800 };

/** How often the status is asked for while the server is still indexing. */
const STATUS_POLL_MS = 1000;

type Kind = EntryView['kind'];

interface Running {
  cancel(): void;
}

export class Runner implements vscode.Disposable {
  private readonly md = createMarkdown();
  private readonly running = new Map<number, Running>();
  /** The workspace folder each answer is about: its citations open there. */
  private readonly folders = new Map<number, vscode.WorkspaceFolder>();
  private readonly disposables: vscode.Disposable[] = [];
  private statusTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly server: ServerClient,
    private readonly panel: AnswerPanel,
    private readonly trace: TraceView,
    private readonly status: StatusBar,
  ) {
    this.disposables.push(
      server.onTrace((event) => {
        // The status bar follows the run the latest event belongs to.
        const summary = this.trace.model.summary(this.trace.add(event));
        this.status.setActivity(summary && !summary.finished ? describeProgress(summary) : '');
      }),
    );
  }

  /** The folder of the latest question: follow-ups typed in the answer panel go there too. */
  lastFolder: vscode.WorkspaceFolder | undefined;

  ask(question: string, folder: vscode.WorkspaceFolder | undefined, scope?: string): Promise<void> {
    const params: AskParams = { question, ...(scope ? { scope } : {}), ...folderParam(folder) };
    const title = scope ? `${question} (in ${scope})` : `${question}${folderSuffix(folder)}`;
    return this.run('ask', title, ServerCommands.ask, params, folder);
  }

  plan(goal: string, folder: vscode.WorkspaceFolder | undefined, scope?: string): Promise<void> {
    const params: PlanParams = { goal, ...(scope ? { scope } : {}), ...folderParam(folder) };
    return this.run('plan', `${goal}${folderSuffix(folder)}`, ServerCommands.plan, params, folder);
  }

  explain(title: string, params: ExplainParams, folder: vscode.WorkspaceFolder | undefined): Promise<void> {
    return this.run('explain', title, ServerCommands.explain, { ...params, ...folderParam(folder) }, folder);
  }

  /** The workspace folder an answer in the panel is about. */
  folderOf(id: number | undefined): vscode.WorkspaceFolder | undefined {
    return id === undefined ? undefined : this.folders.get(id);
  }

  cancel(id: number): void {
    this.running.get(id)?.cancel();
  }

  dispose(): void {
    clearTimeout(this.statusTimer);
    for (const r of this.running.values()) {
      r.cancel();
    }
    for (const d of this.disposables) {
      d.dispose();
    }
  }

  private async run(
    kind: Kind,
    title: string,
    command: string,
    params: unknown,
    folder: vscode.WorkspaceFolder | undefined,
  ): Promise<void> {
    const id = this.panel.add(kind, title);
    if (folder) {
      this.folders.set(id, folder);
      this.lastFolder = folder;
    }
    const workDoneToken = `reporlm-${randomUUID()}`;
    const request = new vscode.CancellationTokenSource();
    let cancelled = false;
    const cancel = () => {
      if (cancelled) {
        return;
      }
      cancelled = true;
      this.panel.update(id, { progress: 'cancelling: waiting for the partial answer…' });
      void this.server
        .ensureStarted()
        .then((client) => client.sendNotification(WorkDoneProgressCancelNotification.type, { token: workDoneToken }))
        .catch(() => undefined);
      request.cancel();
    };
    this.running.set(id, { cancel });

    const short = title.length > 60 ? `${title.slice(0, 59)}…` : title;
    try {
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `reporlm: ${short}`, cancellable: true },
        async (progress, token) => {
          token.onCancellationRequested(cancel);
          const report = (message: string) => {
            progress.report({ message });
            this.panel.update(id, { progress: message });
          };
          let progressListener: vscode.Disposable | undefined;
          try {
            const client = await this.server.ensureStarted();
            progressListener = client.onProgress(WorkDoneProgress.type, workDoneToken, (value) => {
              if (value.kind !== 'end') {
                const message = (value as WorkDoneProgressBegin | WorkDoneProgressReport).message;
                if (message) {
                  report(message);
                }
              }
            });
            const result = await this.server.execute<AskResult | PlanResult>(command, params, request.token, workDoneToken);
            this.show(id, kind, result, cancelled, folder);
          } catch (err) {
            this.fail(id, err, cancelled);
          } finally {
            progressListener?.dispose();
          }
        },
      );
    } finally {
      request.dispose();
      this.running.delete(id);
      this.status.setActivity('');
      void this.refreshStatus();
    }
  }

  private show(
    id: number,
    kind: Kind,
    result: AskResult | PlanResult | null,
    cancelled: boolean,
    folder: vscode.WorkspaceFolder | undefined,
  ): void {
    if (!result) {
      this.panel.update(id, { state: 'error', progress: 'The server returned no result.' });
      return;
    }
    // The folder the server says it answered about; citation paths are relative to it.
    const answered = result.folder ? vscode.workspace.getWorkspaceFolder(vscode.Uri.parse(result.folder)) : undefined;
    if (answered) {
      this.folders.set(id, answered);
    }
    const rootUri = (answered ?? folder ?? this.server.folder)?.uri.toString() ?? '';
    const ctx = { rootUri, citations: new CitationIndex(rootUri, result.citations ?? [], result.cited ?? []) };
    const html = kind === 'plan' ? renderPlan(this.md, result as PlanResult, ctx) : renderAnswer(this.md, result as AskResult, ctx);
    const state = result.partial ? (cancelled || result.reason === 'cancelled' ? 'cancelled' : 'partial') : 'done';
    this.panel.update(id, { state, html, meta: describeRun(result), progress: '' });
  }

  private fail(id: number, err: unknown, cancelled: boolean): void {
    const code = err instanceof ResponseError ? err.code : undefined;
    if (cancelled && code === ErrorCodes.requestCancelled) {
      this.panel.update(id, { state: 'cancelled', progress: '', meta: 'Cancelled before the run started.' });
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    this.server.log.error(`request failed (${code ?? 'no code'}): ${message}`);
    this.panel.update(id, { state: 'error', progress: message });
    const actions = code === ErrorCodes.configuration || code === ErrorCodes.provider ? ['Open settings', 'Show log'] : ['Show log'];
    void vscode.window.showErrorMessage(`reporlm: ${message}`, ...actions).then(async (choice) => {
      if (choice === 'Open settings') {
        await vscode.commands.executeCommand('workbench.action.openSettings', '@ext:reporlm.reporlm');
      } else if (choice === 'Show log') {
        this.server.log.show();
      }
    });
  }

  /** Asks the server for its status and shows it; while the index is still building, asks again. */
  async refreshStatus(): Promise<unknown> {
    if (this.server.state.kind !== 'running') {
      return undefined;
    }
    clearTimeout(this.statusTimer);
    const source = new vscode.CancellationTokenSource();
    try {
      const status = await this.server.execute<StatusResult>(ServerCommands.status, {}, source.token);
      if (status) {
        this.status.setStatus(status);
        if (!indexSettled(status)) {
          this.statusTimer = setTimeout(() => void this.refreshStatus(), STATUS_POLL_MS);
        }
      }
      return status;
    } catch (err) {
      this.server.log.warn(`status: ${String(err)}`);
      return undefined;
    } finally {
      source.dispose();
    }
  }
}

function folderParam(folder: vscode.WorkspaceFolder | undefined): { folder?: string } {
  return folder ? { folder: folder.uri.toString() } : {};
}
