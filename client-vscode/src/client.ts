/**
 * The language-server lifecycle: build the server command from settings, hand it the API keys from
 * SecretStorage through its environment, start, stop, restart, and report state. Automatic
 * restarts are off: a crash is reported with "Restart" and "Show log" so it is never silent.
 */

import * as vscode from 'vscode';
import {
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorAction,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  State,
} from 'vscode-languageclient/node';

import { CONFIG_SECTION, Commands, Notifications, SECRET_KEYS } from './constants';
import type { TraceEvent } from './protocol';
import { checkPackage, choosePython, installCommand, type PythonChoice } from './python';
import { SERVER_ARGS, type ServerOptions as Options, optionsUpdate, serverOptions } from './settings';

export type ServerState =
  | { kind: 'stopped' }
  | { kind: 'starting' }
  | { kind: 'running'; version: string }
  | { kind: 'failed'; message: string };

export class ServerClient implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private stateValue: ServerState = { kind: 'stopped' };
  private readonly stateEmitter = new vscode.EventEmitter<ServerState>();
  private readonly traceEmitter = new vscode.EventEmitter<TraceEvent>();
  private starting: Promise<void> | undefined;
  private stopping = false;
  /** The options the running server has, so a change can unset what is no longer set. */
  private sentOptions: Options = {};

  /** Fires whenever the server starts, stops or fails. */
  readonly onDidChangeState = this.stateEmitter.event;
  /** Every `reporlm/trace` event the server sends. */
  readonly onTrace = this.traceEmitter.event;

  constructor(
    private readonly secrets: vscode.SecretStorage,
    readonly log: vscode.LogOutputChannel,
  ) {}

  get state(): ServerState {
    return this.stateValue;
  }

  /**
   * The first workspace folder: the server starts there (its Python and settings are that folder's).
   * It answers about every folder; each request names the one it is about.
   */
  get folder(): vscode.WorkspaceFolder | undefined {
    return vscode.workspace.workspaceFolders?.[0];
  }

  /** Starts the server if it is not running; resolves once it answered `initialize`. */
  async ensureStarted(): Promise<LanguageClient> {
    if (!this.client || this.stateValue.kind !== 'running') {
      this.starting ??= this.start().finally(() => {
        this.starting = undefined;
      });
      await this.starting;
    }
    if (!this.client || this.stateValue.kind !== 'running') {
      throw new Error(this.stateValue.kind === 'failed' ? this.stateValue.message : 'the reporlm server is not running');
    }
    return this.client;
  }

  async restart(): Promise<void> {
    await this.starting?.catch(() => undefined);
    await this.stop();
    await this.ensureStarted().catch(() => undefined);
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) {
      this.stopping = true;
      try {
        await client.stop(5000);
      } catch (err) {
        this.log.warn(`stopping the server: ${String(err)}`);
      } finally {
        this.stopping = false;
      }
    }
    this.setState({ kind: 'stopped' });
  }

  /** Sends a server command with work-done progress and cancellation. */
  async execute<T>(
    command: string,
    args: unknown,
    token: vscode.CancellationToken,
    workDoneToken?: string,
  ): Promise<T> {
    const client = await this.ensureStarted();
    return (await client.sendRequest(
      ExecuteCommandRequest.type,
      { command, arguments: [args], workDoneToken },
      token,
    )) as T;
  }

  /** Tells the running server about changed settings (provider, models, budgets). */
  async sendSettings(): Promise<void> {
    if (this.client && this.stateValue.kind === 'running') {
      const next = this.currentOptions();
      const update = optionsUpdate(this.sentOptions, next);
      this.sentOptions = next;
      this.log.info(`settings changed: ${JSON.stringify(update)}`);
      await this.client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: { [CONFIG_SECTION]: update },
      });
    }
  }

  dispose(): void {
    void this.stop();
    this.stateEmitter.dispose();
    this.traceEmitter.dispose();
  }

  private async start(): Promise<void> {
    const folder = this.folder;
    if (!folder) {
      this.setState({ kind: 'failed', message: 'Open a folder first: reporlm answers about a workspace folder.' });
      return;
    }
    this.setState({ kind: 'starting' });
    const python = await choosePython(folder.uri);
    const env = await this.serverEnv();
    const check = await checkPackage(python.command, env);
    if (!check.ok) {
      this.reportMissing(python, check.problem, check.detail);
      return;
    }
    this.log.info(`starting: ${python.command} ${SERVER_ARGS.join(' ')} (from ${python.source}; reporlm ${check.version})`);
    this.sentOptions = this.currentOptions();
    this.log.info(`options: ${JSON.stringify(this.sentOptions)}`);
    const server: ServerOptions = {
      command: python.command,
      args: [...SERVER_ARGS],
      options: { cwd: folder.uri.fsPath, env },
    };
    const options: LanguageClientOptions = {
      // Not locked to one workspace folder: the server gets them all, and hears of changes.
      documentSelector: [{ scheme: 'file' }],
      outputChannel: this.log,
      initializationOptions: this.sentOptions,
      errorHandler: {
        error: () => ({ action: ErrorAction.Continue, handled: true }),
        closed: () => {
          if (!this.stopping) {
            this.onCrash();
          }
          return { action: CloseAction.DoNotRestart, handled: true };
        },
      },
    };
    const client = new LanguageClient('reporlm', 'reporlm', server, options);
    client.onDidChangeState((e) => {
      if (e.newState === State.Stopped && this.client === client && !this.stopping) {
        this.client = undefined;
      }
    });
    this.client = client;
    try {
      await client.start();
    } catch (err) {
      this.client = undefined;
      const message = `The reporlm server did not start: ${err instanceof Error ? err.message : String(err)}`;
      this.log.error(message);
      this.setState({ kind: 'failed', message });
      void this.offerRestart(message);
      return;
    }
    client.onNotification(Notifications.trace, (event: TraceEvent) => this.traceEmitter.fire(event));
    this.setState({ kind: 'running', version: check.version });
    // Settings that changed while the server was starting went nowhere: send them now.
    if (JSON.stringify(this.currentOptions()) !== JSON.stringify(this.sentOptions)) {
      await this.sendSettings();
    }
  }

  private currentOptions(): Options {
    const config = vscode.workspace.getConfiguration(CONFIG_SECTION, this.folder?.uri);
    return serverOptions((key) => config.get(key));
  }

  /** The server's environment: ours, plus the API keys kept in SecretStorage (never in settings). */
  private async serverEnv(): Promise<NodeJS.ProcessEnv> {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const { secret, env: variable } of Object.values(SECRET_KEYS)) {
      const key = await this.secrets.get(secret);
      if (key) {
        env[variable] = key;
      }
    }
    return env;
  }

  private onCrash(): void {
    this.client = undefined;
    const message = 'The reporlm server stopped unexpectedly.';
    this.log.error(message);
    this.setState({ kind: 'failed', message });
    void this.offerRestart(message);
  }

  private async offerRestart(message: string): Promise<void> {
    const choice = await vscode.window.showErrorMessage(message, 'Restart', 'Show log');
    if (choice === 'Restart') {
      await vscode.commands.executeCommand(Commands.restartServer);
    } else if (choice === 'Show log') {
      this.log.show();
    }
  }

  private reportMissing(python: PythonChoice, problem: string, detail: string): void {
    const install = installCommand(python.command);
    let message: string;
    if (problem === 'no interpreter') {
      message = `reporlm: cannot run Python "${python.command}" (${python.source}). Set reporlm.pythonPath to an interpreter.`;
    } else if (problem === 'no package') {
      message = `reporlm is not installed for ${python.command} (${python.source}). Install it with: ${install}`;
    } else {
      message = `reporlm cannot be imported by ${python.command}: ${detail.split('\n').pop()}`;
    }
    this.log.error(`${message}\n${detail}`);
    this.setState({ kind: 'failed', message });
    void vscode.window.showErrorMessage(message, 'Copy install command', 'Open settings', 'Show log').then(async (choice) => {
      if (choice === 'Copy install command') {
        await vscode.env.clipboard.writeText(install);
      } else if (choice === 'Open settings') {
        await vscode.commands.executeCommand('workbench.action.openSettings', 'reporlm.pythonPath');
      } else if (choice === 'Show log') {
        this.log.show();
      }
    });
  }

  private setState(state: ServerState): void {
    this.stateValue = state;
    this.stateEmitter.fire(state);
  }
}
