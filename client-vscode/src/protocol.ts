/**
 * Payloads of the server's commands and notifications, mirroring the Python side field by field
 * (DESIGN.md "LSP surface"; server/reporlm/engine/result.py and trace.py). Plain data: no VS Code
 * types here, so the pure modules and their tests can use them.
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
}

export interface PlanParams {
  goal: string;
  scope?: string;
  budget?: Budget;
}

export interface ExplainParams {
  uri: string;
  position: Position;
}

export interface Usage {
  input_tokens?: number;
  output_tokens?: number;
  cost_usd?: number;
}

/** A citation the server could not verify (missing file, line out of range, ...). */
export interface UnverifiedCitation {
  path: string;
  start: number;
  end: number;
  reason?: string;
}

interface RunFields {
  /** True when a budget ran out or the run was cancelled: the best answer so far. */
  partial: boolean;
  /** Why the run ended: "final", "cancelled", or the budget that ran out. */
  reason?: string;
  usage?: Usage | { total?: Usage };
  trace_id: string;
  /** Optional extras the server may add; the client copes without them. */
  unverified?: UnverifiedCitation[];
  iterations?: number;
  sub_calls?: number;
  seconds?: number;
  trace_file?: string | null;
}

export interface AskResult extends RunFields {
  /** Markdown. */
  answer: string;
  /** Verified citations only. */
  citations: Location[];
}

export interface PlanStep {
  title: string;
  /** Markdown. */
  detail: string;
  locations: Location[];
}

export interface PlanResult extends RunFields {
  /** Markdown: the plan as the model wrote it. */
  plan: string;
  steps: PlanStep[];
  citations?: Location[];
}

/** `reporlm.server.status`: shown as it comes; these are the fields the status bar reads. */
export interface StatusResult {
  index?: string | { state?: string; files?: number; [key: string]: unknown };
  provider?: string;
  model?: string;
  sub_model?: string;
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
