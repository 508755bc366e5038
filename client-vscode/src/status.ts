/** The status bar item: server state, index state, and what a running question is doing. */

import * as vscode from 'vscode';

import type { ServerState } from './client';
import { Commands } from './constants';
import type { StatusResult } from './protocol';
import { indexState } from './statusText';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('reporlm.status', vscode.StatusBarAlignment.Left, 50);
  private server: ServerState = { kind: 'stopped' };
  private index = '';
  private activity = '';

  constructor() {
    this.item.name = 'reporlm';
    this.item.command = Commands.showStatus;
    this.render();
    this.item.show();
  }

  setServer(state: ServerState): void {
    this.server = state;
    if (state.kind !== 'running') {
      this.index = '';
    }
    this.render();
  }

  setStatus(status: StatusResult): void {
    this.index = indexState(status);
    this.render();
  }

  /** What a question is doing right now; empty when idle. */
  setActivity(text: string): void {
    this.activity = text;
    this.render();
  }

  dispose(): void {
    this.item.dispose();
  }

  private render(): void {
    const s = this.server;
    let icon = '$(sparkle)';
    let text = 'reporlm';
    let tooltip = 'reporlm: click for the server status';
    this.item.backgroundColor = undefined;
    if (this.activity) {
      icon = '$(sync~spin)';
      text = `reporlm: ${this.activity}`;
    } else if (s.kind === 'starting') {
      icon = '$(loading~spin)';
      text = 'reporlm: starting';
    } else if (s.kind === 'failed') {
      icon = '$(error)';
      text = 'reporlm: stopped';
      tooltip = s.message;
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
    } else if (s.kind === 'stopped') {
      icon = '$(circle-slash)';
      text = 'reporlm: off';
      tooltip = 'reporlm: the server starts with the first question';
    } else if (this.index) {
      text = `reporlm: ${this.index}`;
      tooltip = `reporlm ${s.version}: index ${this.index}; click for the server status`;
    }
    this.item.text = `${icon} ${text}`;
    this.item.tooltip = tooltip;
  }
}
