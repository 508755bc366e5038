/** Messages between the answer panel's webview script (media/panel.js) and the extension. */

export interface EntryView {
  id: number;
  kind: 'ask' | 'plan' | 'explain';
  /** The question, goal or symbol, as plain text. */
  title: string;
  state: 'running' | 'done' | 'partial' | 'cancelled' | 'error';
  /** Live step message while running; the error text when failed. */
  progress: string;
  /** The rendered answer (render.ts): escaped Markdown with citation links. */
  html: string;
  /** One line about the finished run: turns, sub-calls, tokens, cost, time. */
  meta: string;
  /** Bumped on every change so the webview re-renders only what changed. */
  version: number;
}

export interface CitationRequest {
  path: string;
  start: number;
  end: number;
  /** The entry the citation is in: its answer's workspace folder is where the path is opened. */
  entry?: number;
}

/** From the webview to the extension. */
export type PanelMessage =
  | { type: 'ready' }
  | ({ type: 'open' } & CitationRequest)
  | { type: 'ask'; kind: 'ask' | 'plan'; text: string }
  | { type: 'cancel'; id: number };
