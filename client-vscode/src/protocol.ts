/**
 * Payloads of the server's commands and notifications, mirroring the Python side field by field
 * (server/reporlm/lsp/wire.py, lsp/results.py, engine/trace.py). Plain data: no VS Code types
 * here, so the pure modules and their tests can use them.
 */

export interface Position {
  /** Zero-based line. */
  line: number;
  /** Zero-based UTF-16 column. */
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

/** An LSP Location: the verified citations of an answer. */
export interface Location {
  uri: string;
  range: Range;
}

/** A resource budget for one question; every field optional, the server fills in the rest. */
export interface Budget {
  max_iterations?: number;
  max_sub_calls?: number;
  max_cost_usd?: number;
  max_seconds?: number;
  max_depth?: number;
}

export interface AskParams {
  question: string;
  /** A folder of the repository to limit the question to. */
  scope?: string;
  budget?: Budget;
  /**
   * The workspace folder the question is about: its URI, or a document URI inside it. Needed when
   * several folders are open (the server answers with an error listing them otherwise).
   */
  folder?: string;
}

export interface PlanParams {
  goal: string;
  scope?: string;
  budget?: Budget;
  folder?: string;
}

export interface ExplainParams {
  uri: string;
  position: Position;
  budget?: Budget;
  /** Without it, the server takes the folder holding `uri`. */
  folder?: string;
}

export interface Usage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_tokens?: number;
  cache_write_tokens?: number;
  cost_usd?: number;
}

/** One `path:line` an answer cites, as the server checked it against the repository. */
export interface CitedLine {
  path: string;
  /** 1-based, inclusive. */
  start: number;
  end: number;
  verified: boolean;
  /** Why it is not verified (missing file, line out of range, ...); empty when verified. */
  reason?: string;
}

interface RunFields {
  /** True when a budget ran out or the run was cancelled: the best answer so far. */
  partial: boolean;
  /** Why the run ended: "final", "cancelled", or the budget that ran out. */
  reason?: string;
  /** `{root, sub, total}` from the server; a flat Usage is accepted too. */
  usage?: Usage | { root?: Usage; sub?: Usage; total?: Usage };
  trace_id: string;
  /** Every citation of the answer in order, verified or not. */
  cited?: CitedLine[];
  iterations?: number;
  sub_calls?: number;
  seconds?: number;
  trace_file?: string | null;
  /** The URI of the workspace folder the run was about; `cited` paths are relative to it. */
  folder?: string;
}

export interface AskResult extends RunFields {
  /** Markdown. */
  answer: string;
  /** Verified citations only. */
  citations: Location[];
  /** explain only: the symbol explained. */
  symbol?: unknown;
}

/** A file, line range or symbol a plan step names that the server could not find. */
export interface UnverifiedReference {
  kind: string;
  text: string;
  reason: string;
}

export interface PlanStep {
  title: string;
  /** Markdown. */
  detail: string;
  /** What the step names that the server found in the repository. */
  locations: Location[];
  unverified?: UnverifiedReference[];
}

export interface PlanResult extends RunFields {
  /** Markdown: the plan as the model wrote it. */
  plan: string;
  steps: PlanStep[];
  citations?: Location[];
  title?: string;
  summary?: string;
  risks?: PlanStep[];
}

/** `reporlm.server.status`: shown as it comes; these are the fields the status bar reads. */
export interface StatusResult {
  /** The index of the folder asked about, else of the first folder. */
  index?: string | { state?: string; files?: number; [key: string]: unknown };
  provider?: string;
  model?: string;
  sub_model?: string;
  /** Every workspace folder the server has, with its own index, models and errors. */
  folders?: { uri: string; name: string; index?: StatusResult['index']; [key: string]: unknown }[];
  [key: string]: unknown;
}

/** One trace event (server/reporlm/engine/trace.py): a fixed envelope plus per-kind fields. */
export interface TraceEvent {
  v: number;
  run: string;
  seq: number;
  /** Seconds since the run started. */
  t: number;
  depth: number;
  kind: string;
  [field: string]: unknown;
}

/** Usage totals whichever shape the server sends (flat, or split into root/sub/total). */
export function totalUsage(usage: RunFields['usage']): Usage {
  if (!usage) {
    return {};
  }
  if ('total' in usage && usage.total) {
    return usage.total;
  }
  return usage as Usage;
}
