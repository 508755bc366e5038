/** The Trace tree view: TraceModel's nodes shown as they arrive, newest run first. */

import * as vscode from 'vscode';

import type { TraceEvent } from './protocol';
import { type NodeKind, TraceModel, type TraceNode } from './traceModel';

const ICONS: Record<NodeKind, string> = {
  run: 'comment-discussion',
  iteration: 'list-ordered',
  model_call: 'sparkle',
  code: 'code',
  output: 'output',
  subcall: 'call-outgoing',
  child: 'type-hierarchy-sub',
  nudge: 'info',
  final: 'pass',
  error: 'error',
};

export class TraceView implements vscode.TreeDataProvider<TraceNode>, vscode.Disposable {
  readonly model = new TraceModel();
  private readonly changed = new vscode.EventEmitter<TraceNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private pending: NodeJS.Timeout | undefined;

  add(event: TraceEvent): string {
    const run = this.model.add(event);
    // Events come in bursts (a batch of sub-calls): refresh the tree at most every 100 ms.
    this.pending ??= setTimeout(() => {
      this.pending = undefined;
      this.changed.fire(undefined);
    }, 100);
    return run;
  }

  clear(): void {
    this.model.clear();
    this.changed.fire(undefined);
  }

  getChildren(node?: TraceNode): TraceNode[] {
    return node ? node.children : this.model.roots();
  }

  getTreeItem(node: TraceNode): vscode.TreeItem {
    const expandable = node.children.length > 0;
    const collapsed =
      node.kind === 'run' || (node.kind === 'iteration' && node.open) || node.kind === 'child'
        ? vscode.TreeItemCollapsibleState.Expanded
        : vscode.TreeItemCollapsibleState.Collapsed;
    const item = new vscode.TreeItem(node.label, expandable ? collapsed : vscode.TreeItemCollapsibleState.None);
    item.id = node.id;
    item.description = node.description;
    item.iconPath = node.open
      ? new vscode.ThemeIcon('loading~spin')
      : new vscode.ThemeIcon(
          ICONS[node.kind],
          node.problem ? new vscode.ThemeColor('problemsWarningIcon.foreground') : undefined,
        );
    if (node.detail) {
      const md = new vscode.MarkdownString();
      md.appendCodeblock(node.detail.length > 4000 ? `${node.detail.slice(0, 4000)}\n…` : node.detail, node.kind === 'code' ? 'python' : 'text');
      item.tooltip = md;
    }
    return item;
  }

  dispose(): void {
    clearTimeout(this.pending);
    this.changed.dispose();
  }
}
