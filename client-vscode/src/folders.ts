/**
 * Which workspace folder a command is about. The server answers about every folder of a multi-root
 * workspace, each a repository of its own, and each request names its folder: the one holding the
 * resource the command started from (a folder in the explorer, the active editor's document), else
 * the only folder, else the one the user picks.
 */

import * as vscode from 'vscode';

/** The folder for a command; undefined when there is none or the user dismissed the pick. */
export async function chooseFolder(resource?: vscode.Uri): Promise<vscode.WorkspaceFolder | undefined> {
  const from = resource ?? vscode.window.activeTextEditor?.document.uri;
  // VS Code's own lookup: the innermost folder when folders nest, as the server chooses.
  const holding = from ? vscode.workspace.getWorkspaceFolder(from) : undefined;
  if (holding) {
    return holding;
  }
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length <= 1) {
    return folders[0];
  }
  return vscode.window.showWorkspaceFolderPick({
    placeHolder: 'Which folder should reporlm answer about?',
    ignoreFocusOut: true,
  });
}

/** "in <name>" when several folders are open, so titles say which repository a run is about. */
export function folderSuffix(folder: vscode.WorkspaceFolder | undefined): string {
  return folder && (vscode.workspace.workspaceFolders?.length ?? 0) > 1 ? ` (in ${folder.name})` : '';
}
