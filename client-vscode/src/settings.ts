/**
 * The extension's settings (`reporlm.*`, camelCase as VS Code users expect) mapped to the server's
 * options (server/reporlm/config.py `Settings`, snake_case), which the server takes as
 * initializationOptions and in workspace/didChangeConfiguration. Pure: tested under plain Node.
 */

import type { Budget } from './protocol';

/** Reads one setting under `reporlm.`; a `vscode.WorkspaceConfiguration.get` fits. */
export type SettingReader = (key: string) => unknown;

/** What the server reads (config.py Settings field names); absent keys keep the server's defaults. */
export interface ServerOptions {
  provider?: string;
  model?: string;
  sub_model?: string;
  base_url?: string;
  limits?: Budget;
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
];

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
  return out;
}

/** The provider whose API key the server will look for, as the server decides it. */
export function effectiveProvider(options: ServerOptions, keys: ReadonlySet<string>): string {
  if (options.provider) {
    return options.provider;
  }
  return keys.has('anthropic') ? 'anthropic' : 'local';
}

/** The interpreter setting, or undefined to ask the Python extension (then fall back to python3). */
export function configuredPython(read: SettingReader): string | undefined {
  const value = read('pythonPath');
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

export const FALLBACK_PYTHON = 'python3';
