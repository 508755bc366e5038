/**
 * Which Python runs the server: the `reporlm.pythonPath` setting, else the Python extension's
 * active interpreter for the workspace, else `python3`. Also checks that the interpreter has the
 * reporlm package, so a missing install is reported with the command that fixes it.
 */

import { execFile } from 'node:child_process';
import * as vscode from 'vscode';

import { CONFIG_SECTION } from './constants';
import { CHECK_ARGS, FALLBACK_PYTHON, configuredPython } from './settings';

/** The little of the Python extension's API this uses (ms-python.python, "environments"). */
interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
    resolveEnvironment(env: { path: string } | string): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
    onDidChangeActiveEnvironmentPath: vscode.Event<unknown>;
  };
}

export interface PythonChoice {
  command: string;
  /** Where it came from, for the log and for messages. */
  source: 'setting' | 'python extension' | 'default';
}

export async function choosePython(folder: vscode.Uri | undefined): Promise<PythonChoice> {
  const config = vscode.workspace.getConfiguration(CONFIG_SECTION, folder);
  const configured = configuredPython((key) => config.get(key));
  if (configured) {
    return { command: configured, source: 'setting' };
  }
  const fromExtension = await activeInterpreter(folder);
  if (fromExtension) {
    return { command: fromExtension, source: 'python extension' };
  }
  return { command: FALLBACK_PYTHON, source: 'default' };
}

async function pythonApi(): Promise<PythonExtensionApi | undefined> {
  const ext = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
  if (!ext) {
    return undefined;
  }
  try {
    return ext.isActive ? ext.exports : await ext.activate();
  } catch {
    return undefined;
  }
}

async function activeInterpreter(folder: vscode.Uri | undefined): Promise<string | undefined> {
  const envs = (await pythonApi())?.environments;
  if (!envs) {
    return undefined;
  }
  try {
    const active = envs.getActiveEnvironmentPath(folder);
    const resolved = await envs.resolveEnvironment(active);
    return resolved?.executable.uri?.fsPath;
  } catch {
    return undefined;
  }
}

/** Calls `listener` when the Python extension's active interpreter changes (no-op without it). */
export async function onInterpreterChange(listener: () => void): Promise<vscode.Disposable | undefined> {
  const envs = (await pythonApi())?.environments;
  return envs?.onDidChangeActiveEnvironmentPath(listener);
}

export type PackageCheck =
  | { ok: true; version: string }
  | { ok: false; problem: 'no interpreter' | 'no package' | 'broken'; detail: string };

/** Runs the interpreter once to see that `import reporlm` works, and which version it is. */
export function checkPackage(python: string, env: NodeJS.ProcessEnv): Promise<PackageCheck> {
  return new Promise((resolve) => {
    execFile(python, [...CHECK_ARGS], { env, timeout: 30_000 }, (error, stdout, stderr) => {
      if (!error) {
        resolve({ ok: true, version: stdout.trim() });
      } else if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        resolve({ ok: false, problem: 'no interpreter', detail: `${python}: not found` });
      } else if (/No module named '?reporlm/.test(stderr)) {
        resolve({ ok: false, problem: 'no package', detail: stderr.trim().split('\n').pop() ?? '' });
      } else if (/Unknown option:? -P/.test(stderr)) {
        resolve({ ok: false, problem: 'broken', detail: `${python} is older than Python 3.11, which reporlm needs` });
      } else {
        resolve({ ok: false, problem: 'broken', detail: (stderr || error.message).trim() });
      }
    });
  });
}

/** The command that installs the server into `python`. */
export function installCommand(python: string): string {
  const quoted = /^[\w@%+=:,./-]+$/.test(python) ? python : `'${python.replace(/'/g, `'\\''`)}'`;
  return `${quoted} -m pip install reporlm`;
}
