/**
 * The extension's settings (`reporlm.*`, camelCase as VS Code users expect) mapped to the server's
 * options (server/reporlm/config.py `Settings`, snake_case), which the server takes as
 * initializationOptions and in workspace/didChangeConfiguration. Pure: tested under plain Node.
 */

import type { Budget } from './protocol';

/** Reads one setting under `reporlm.`; a `vscode.WorkspaceConfiguration.get` fits. */
export type SettingReader = (key: string) => unknown;

/**
 * What the server reads (server/reporlm/lsp/options.py: config.py Settings names, snake_case or
 * camelCase, plus server-only options such as `maxRuns`); absent keys keep the server's defaults.
 */
export interface ServerOptions {
  provider?: string;
  model?: string;
  sub_model?: string;
  base_url?: string;
  limits?: Budget;
  [option: string]: unknown;
}

const STRING_OPTIONS: ReadonlyArray<[setting: string, option: 'provider' | 'model' | 'sub_model' | 'base_url']> = [
  ['provider', 'provider'],
  ['model', 'model'],
  ['subModel', 'sub_model'],
  ['baseUrl', 'base_url'],
];

const BUDGET_OPTIONS: ReadonlyArray<[setting: string, option: keyof Budget, integer: boolean]> = [
  ['budget.maxIterations', 'max_iterations', true],
  ['budget.maxSubCalls', 'max_sub_calls', true],
  ['budget.maxCostUsd', 'max_cost_usd', false],
  ['budget.maxSeconds', 'max_seconds', false],
  ['budget.maxDepth', 'max_depth', true],
];

/** Settings that only take effect when the server process starts again. */
export const RESTART_SETTINGS: readonly string[] = ['reporlm.pythonPath'];

/** Settings the running server receives through workspace/didChangeConfiguration. */
export const SERVER_SETTINGS: readonly string[] = [
  ...STRING_OPTIONS.map(([s]) => `reporlm.${s}`),
  ...BUDGET_OPTIONS.map(([s]) => `reporlm.${s}`),
  'reporlm.serverOptions',
];

/** Keys never sent from settings: the server takes keys only from its environment. */
const SECRET_OPTION = /^(api_?key|token|secret)$/i;

export function serverOptions(read: SettingReader): ServerOptions {
  const out: ServerOptions = {};
  for (const [setting, option] of STRING_OPTIONS) {
    const value = read(setting);
    if (typeof value === 'string' && value.trim() !== '') {
      out[option] = value.trim();
    }
  }
  const limits: Budget = {};
  for (const [setting, option, integer] of BUDGET_OPTIONS) {
    const value = read(setting);
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) {
      limits[option] = integer ? Math.floor(value) : value;
    }
  }
  if (Object.keys(limits).length > 0) {
    out.limits = limits;
  }
  const extra = read('serverOptions');
  if (extra && typeof extra === 'object' && !Array.isArray(extra)) {
    for (const [key, value] of Object.entries(extra as Record<string, unknown>)) {
      if (!SECRET_OPTION.test(key)) {
        out[key] = value;
      }
    }
  }
  return out;
}

/** The interpreter setting, or undefined to ask the Python extension (then fall back to python3). */
export function configuredPython(read: SettingReader): string | undefined {
  const value = read('pythonPath');
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

export const FALLBACK_PYTHON = 'python3';

/**
 * How the server is started. `-P`: the server runs with the workspace folder as its working
 * directory, and `-m` alone would put that folder first on sys.path, so a `platformdirs.py` (or
 * `pygls.py`, ...) in the repository would run inside the server, next to the API keys.
 */
export const SERVER_ARGS: readonly string[] = ['-P', '-m', 'reporlm', 'serve'];

/** The version check, started the same way (`-c` would put the working directory on sys.path too). */
export const CHECK_ARGS: readonly string[] = ['-P', '-c', 'import sys, reporlm; sys.stdout.write(reporlm.__version__)'];

/**
 * The didChangeConfiguration payload that takes the server from `previous` to `next`: the server
 * merges what it receives, and a null puts an option back to its default, so options that were
 * set and no longer are go as null (budget limits one by one).
 */
export function optionsUpdate(previous: ServerOptions, next: ServerOptions): Record<string, unknown> {
  const update: Record<string, unknown> = { ...next };
  for (const key of Object.keys(previous)) {
    if (!(key in next)) {
      update[key] = null;
    }
  }
  const before = previous.limits ?? {};
  const after = next.limits ?? {};
  const limits: Record<string, unknown> = { ...after };
  for (const key of Object.keys(before)) {
    if (!(key in after)) {
      limits[key] = null;
    }
  }
  if (Object.keys(limits).length > 0) {
    update.limits = limits;
  }
  return update;
}
