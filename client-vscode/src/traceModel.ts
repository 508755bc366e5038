/**
 * The trace tree, built live from `reporlm/trace` events (server/reporlm/engine/trace.py):
 * run → iterations → model call, code, output, sub-calls, child runs (which hold their own
 * iterations), final answer. Each node shows tokens and time when the events carry them.
 * Pure: the tree view adapts it to VS Code, and the unit tests feed it events directly.
 */

import type { TraceEvent } from './protocol';
import { formatCost, formatSeconds, formatTokens, plural } from './render';

export type NodeKind =
  | 'run'
  | 'iteration'
  | 'model_call'
  | 'code'
  | 'output'
  | 'subcall'
  | 'child'
  | 'nudge'
  | 'final'
  | 'error';

export interface TraceNode {
  id: string;
  kind: NodeKind;
  label: string;
  description: string;
  /** Longer text for the hover: code, output preview, prompt preview. */
  detail: string;
  children: TraceNode[];
  /** Still running (a sub-call or child without its end event yet). */
  open: boolean;
  /** Whether this node reports a problem (error, killed block, partial child). */
  problem: boolean;
}

interface RunState {
  root: TraceNode;
  /** Per depth: the node new iterations go under (the run, or a child RLM node). */
  containers: TraceNode[];
  /** Per depth: the current iteration, where steps go. */
  iterations: (TraceNode | undefined)[];
  /** Per depth: sub-calls started and not ended yet, oldest first. */
  pendingSubcalls: TraceNode[][];
  /** Per depth: child nodes waiting for child_end. */
  pendingChildren: TraceNode[][];
  subcalls: number;
  tokens: number;
  costUsd: number;
  iteration: number;
  maxIterations?: number;
  finished: boolean;
}

/** What the progress notification says while a run goes on. */
export interface RunSummary {
  iteration: number;
  maxIterations?: number;
  subcalls: number;
  tokens: number;
  costUsd: number;
  finished: boolean;
}

const MAX_RUNS = 20;

export class TraceModel {
  private readonly runs = new Map<string, RunState>();
  private readonly totals = new WeakMap<TraceNode, { tokens: number; seconds: number }>();
  private nextId = 0;

  /** The runs, newest first. */
  roots(): TraceNode[] {
    return [...this.runs.values()].map((r) => r.root).reverse();
  }

  clear(): void {
    this.runs.clear();
  }

  summary(runId: string): RunSummary | undefined {
    const r = this.runs.get(runId);
    if (!r) {
      return undefined;
    }
    return {
      iteration: r.iteration,
      maxIterations: r.maxIterations,
      subcalls: r.subcalls,
      tokens: r.tokens,
      costUsd: r.costUsd,
      finished: r.finished,
    };
  }

  /** Adds one event; returns the run it belongs to. */
  add(event: TraceEvent): string {
    const run = this.runFor(event);
    const depth = Math.max(0, Math.floor(event.depth ?? 0));
    const f = (name: string) => event[name];
    switch (event.kind) {
      case 'run_start': {
        if (depth === 0) {
          run.root.label = str(f('question')) || run.root.label;
          run.root.detail = describeStart(event);
        }
        break;
      }
      case 'iteration': {
        const n = num(f('n'));
        if (depth === 0) {
          run.iteration = n ?? run.iteration + 1;
          run.maxIterations = num(f('max')) ?? run.maxIterations;
        }
        const node = this.node('iteration', `Iteration ${n ?? '?'}`);
        this.container(run, depth).children.push(node);
        run.iterations[depth] = node;
        break;
      }
      case 'model_call': {
        const tokens = (num(f('input_tokens')) ?? 0) + (num(f('output_tokens')) ?? 0);
        this.countUsage(run, event);
        const node = this.node('model_call', `Model ${str(f('model')) || 'call'}`);
        node.description = join(tokensText(event), secondsText(f('seconds')), costText(f('cost_usd')));
        node.detail = str(f('text'));
        this.parent(run, depth).children.push(node);
        this.addToIteration(run, depth, tokens, num(f('seconds')));
        break;
      }
      case 'code': {
        const code = str(f('code'));
        const node = this.node('code', firstLine(code) || 'code');
        node.description = plural(code.split('\n').length, 'line');
        node.detail = code;
        this.parent(run, depth).children.push(node);
        break;
      }
      case 'output': {
        const error = str(f('error'));
        const killed = f('killed') === true;
        const node = this.node('output', killed ? 'Block killed' : error ? 'Error' : 'Output');
        node.description = join(`${num(f('chars')) ?? 0} chars`, secondsText(f('seconds')));
        node.detail = [error, str(f('preview'))].filter(Boolean).join('\n\n');
        node.problem = killed || error !== '';
        this.parent(run, depth).children.push(node);
        this.addToIteration(run, depth, 0, num(f('seconds')));
        break;
      }
      case 'subcall_start': {
        const node = this.node('subcall', 'llm_query');
        node.open = true;
        node.description = `${num(f('prompt_chars')) ?? 0} chars…`;
        node.detail = str(f('preview'));
        this.parent(run, depth).children.push(node);
        (run.pendingSubcalls[depth] ??= []).push(node);
        // The server counts sub-calls across the whole tree, children included; so does this.
        run.subcalls++;
        break;
      }
      case 'subcall_end': {
        this.countUsage(run, event);
        const cached = f('cached') === true;
        let node = cached ? undefined : run.pendingSubcalls[depth]?.shift();
        if (!node) {
          node = this.node('subcall', 'llm_query');
          this.parent(run, depth).children.push(node);
        }
        node.open = false;
        this.addToIteration(run, depth, (num(f('input_tokens')) ?? 0) + (num(f('output_tokens')) ?? 0), undefined);
        node.label = cached ? 'llm_query (cached)' : 'llm_query';
        node.description = join(tokensText(event), secondsText(f('seconds')), costText(f('cost_usd')));
        const answer = str(f('preview'));
        if (answer) {
          node.detail = [node.detail, `→ ${answer}`].filter(Boolean).join('\n\n');
        }
        break;
      }
      case 'child_start': {
        const degraded = f('degraded') === true;
        const scope = str(f('scope'));
        const node = this.node('child', degraded ? 'rlm_query (as llm_query)' : 'rlm_query');
        node.open = !degraded;
        node.description = join(scope ? `scope ${scope}` : '', str(f('question')));
        node.detail = str(f('question'));
        this.parent(run, depth).children.push(node);
        if (degraded) {
          // At the depth limit the child is one sub-call: its subcall events follow at this depth.
          break;
        }
        run.subcalls++;
        (run.pendingChildren[depth] ??= []).push(node);
        run.containers[depth + 1] = node;
        run.iterations[depth + 1] = undefined;
        break;
      }
      case 'child_end': {
        const node = run.pendingChildren[depth]?.pop();
        if (node) {
          node.open = false;
          node.problem = f('partial') === true;
          const iterations = num(f('iterations'));
          node.description = join(
            node.description,
            iterations !== undefined ? plural(iterations, 'iteration') : '',
            node.problem ? `partial (${str(f('reason')) || str(f('error')) || 'stopped'})` : '',
          );
          const answer = str(f('answer'));
          if (answer) {
            node.detail = [node.detail, `→ ${answer}`].filter(Boolean).join('\n\n');
          }
        }
        run.containers.length = depth + 1;
        run.iterations.length = depth + 1;
        break;
      }
      case 'nudge': {
        const node = this.node('nudge', `Nudge: ${str(f('why')) || 'corrected'}`);
        this.parent(run, depth).children.push(node);
        break;
      }
      case 'final': {
        const partial = f('partial') === true;
        const node = this.node('final', partial ? `Partial answer (${str(f('reason'))})` : 'Final answer');
        const cited = Array.isArray(f('citations')) ? (f('citations') as unknown[]).length : 0;
        const unverified = Array.isArray(f('unverified')) ? (f('unverified') as unknown[]).length : 0;
        node.description = join(plural(cited, 'citation'), unverified ? `${unverified} unverified` : '');
        node.detail = str(f('answer'));
        node.problem = partial || unverified > 0;
        this.container(run, depth).children.push(node);
        break;
      }
      case 'error': {
        const node = this.node('error', `Error: ${firstLine(str(f('message')))}`);
        node.detail = str(f('message'));
        node.problem = true;
        this.parent(run, depth).children.push(node);
        break;
      }
      case 'run_end': {
        if (depth === 0) {
          run.finished = true;
          run.root.open = false;
          run.root.description = join(
            plural(num(f('iterations')) ?? run.iteration, 'iteration'),
            plural(num(f('sub_calls')) ?? run.subcalls, 'sub-call'),
            tokensText(event),
            costText(f('cost_usd')),
            secondsText(f('seconds')),
          );
        }
        break;
      }
      default:
        // Unknown kinds from a newer server are ignored rather than guessed at.
        break;
    }
    return event.run;
  }

  private runFor(event: TraceEvent): RunState {
    let run = this.runs.get(event.run);
    if (!run) {
      const root = this.node('run', 'Question');
      root.open = true;
      run = {
        root,
        containers: [root],
        iterations: [],
        pendingSubcalls: [],
        pendingChildren: [],
        subcalls: 0,
        tokens: 0,
        costUsd: 0,
        iteration: 0,
        finished: false,
      };
      this.runs.set(event.run, run);
      while (this.runs.size > MAX_RUNS) {
        this.runs.delete(this.runs.keys().next().value as string);
      }
    }
    return run;
  }

  private container(run: RunState, depth: number): TraceNode {
    for (let d = Math.min(depth, run.containers.length - 1); d >= 0; d--) {
      const c = run.containers[d];
      if (c) {
        return c;
      }
    }
    return run.root;
  }

  /** Where a step at `depth` goes: its iteration, or the container before the first iteration. */
  private parent(run: RunState, depth: number): TraceNode {
    return run.iterations[depth] ?? this.container(run, depth);
  }

  private countUsage(run: RunState, event: TraceEvent): void {
    run.tokens += (num(event.input_tokens) ?? 0) + (num(event.output_tokens) ?? 0);
    run.costUsd += num(event.cost_usd) ?? 0;
  }

  /** Iterations show the tokens of their model call and sub-calls, and the time of model and code. */
  private addToIteration(run: RunState, depth: number, tokens: number, seconds: number | undefined): void {
    const iteration = run.iterations[depth];
    if (!iteration) {
      return;
    }
    const total = this.totals.get(iteration) ?? { tokens: 0, seconds: 0 };
    total.tokens += tokens;
    total.seconds += seconds ?? 0;
    this.totals.set(iteration, total);
    iteration.description = join(
      total.tokens ? `${formatTokens(total.tokens)} tokens` : '',
      total.seconds ? formatSeconds(total.seconds) : '',
    );
  }

  private node(kind: NodeKind, label: string): TraceNode {
    return {
      id: `n${this.nextId++}`,
      kind,
      label,
      description: '',
      detail: '',
      children: [],
      open: false,
      problem: false,
    };
  }
}

/** "iteration 3/30 · 4 sub-calls · 12.3k tokens · $0.01" for the progress notification. */
export function describeProgress(s: RunSummary): string {
  const parts = [s.maxIterations ? `iteration ${s.iteration}/${s.maxIterations}` : `iteration ${s.iteration}`];
  if (s.subcalls) {
    parts.push(plural(s.subcalls, 'sub-call'));
  }
  if (s.tokens) {
    parts.push(`${formatTokens(s.tokens)} tokens`);
  }
  if (s.costUsd) {
    parts.push(formatCost(s.costUsd));
  }
  return parts.join(' · ');
}

function describeStart(event: TraceEvent): string {
  return join(
    str(event.root_model) ? `root ${str(event.root_model)}` : '',
    str(event.sub_model) ? `sub ${str(event.sub_model)}` : '',
    str(event.scope) ? `scope ${str(event.scope)}` : '',
  );
}

function tokensText(event: TraceEvent): string {
  const tokens = (num(event.input_tokens) ?? 0) + (num(event.output_tokens) ?? 0);
  return tokens ? `${formatTokens(tokens)} tokens` : '';
}

function secondsText(value: unknown): string {
  const s = num(value);
  return s !== undefined ? formatSeconds(s) : '';
}

function costText(value: unknown): string {
  const c = num(value);
  return c ? formatCost(c) : '';
}

function join(...parts: string[]): string {
  return parts.filter((p) => p !== '').join(' · ');
}

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.length > 80 ? `${line.slice(0, 79)}…` : line.trim();
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
