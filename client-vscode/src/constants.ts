/**
 * Every wire name in one place: the extension's own command IDs, the server's command IDs and
 * custom notifications, the settings section and the secret keys. The server's IDs differ from the
 * UI commands because vscode-languageclient registers a VS Code command for each server command.
 */

export const EXTENSION_ID = 'reporlm.reporlm';

/** Commands the user runs (palette, menus, status bar). */
export namespace Commands {
  export const ask = 'reporlm.ask';
  export const askFolder = 'reporlm.askFolder';
  export const plan = 'reporlm.plan';
  export const explain = 'reporlm.explain';
  export const showTrace = 'reporlm.showTrace';
  export const showAnswers = 'reporlm.showAnswers';
  export const showStatus = 'reporlm.showStatus';
  export const restartServer = 'reporlm.restartServer';
  export const setApiKey = 'reporlm.setApiKey';
  export const clearTrace = 'reporlm.clearTrace';
  export const showLog = 'reporlm.showLog';
}

/** Commands the server answers through `workspace/executeCommand` (see DESIGN.md, LSP surface). */
export namespace ServerCommands {
  export const ask = 'reporlm.server.ask';
  export const plan = 'reporlm.server.plan';
  export const explain = 'reporlm.server.explain';
  export const status = 'reporlm.server.status';
}

/** Custom notifications from the server. */
export namespace Notifications {
  /** One engine trace event, streamed while a command runs. */
  export const trace = 'reporlm/trace';
}

export namespace Views {
  export const trace = 'reporlm.trace';
}

/** The settings section; every key below lives under it. */
export const CONFIG_SECTION = 'reporlm';

/** SecretStorage keys, one per provider that takes a key. */
export const SECRET_KEYS: Readonly<Record<string, { secret: string; env: string }>> = {
  anthropic: { secret: 'reporlm.apiKey.anthropic', env: 'ANTHROPIC_API_KEY' },
  openai: { secret: 'reporlm.apiKey.openai', env: 'OPENAI_API_KEY' },
};
