import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { TraceEvent } from '../../src/protocol';
import { TraceModel, type TraceNode, describeProgress } from '../../src/traceModel';

/** Events in the envelope server/reporlm/engine/trace.py writes. */
function events(run: string, list: Array<[number, string, Record<string, unknown>]>): TraceEvent[] {
  return list.map(([depth, kind, data], i) => ({ v: 1, run, seq: i + 1, t: i * 0.1, depth, kind, ...data }));
}

/** The tree as indented "label [description]" lines, to compare whole shapes. */
function outline(nodes: TraceNode[], indent = ''): string[] {
  return nodes.flatMap((n) => [
    `${indent}${n.label}${n.description ? ` [${n.description}]` : ''}${n.open ? ' …' : ''}${n.problem ? ' !' : ''}`,
    ...outline(n.children, `${indent}  `),
  ]);
}

const RUN = events('r1', [
  [0, 'run_start', { question: 'Where is X parsed?', root_model: 'big', sub_model: 'small', scope: null }],
  [0, 'iteration', { n: 1, max: 30 }],
  [0, 'model_call', { model: 'big', input_tokens: 1500, output_tokens: 120, cost_usd: 0.01, seconds: 2.5, text: '...' }],
  [0, 'code', { code: 'hits = repo.grep("parse")\nprint(hits)' }],
  [0, 'subcall_start', { prompt_chars: 900, preview: 'Summarise' }],
  [0, 'subcall_start', { prompt_chars: 800, preview: 'Summarise 2' }],
  [0, 'subcall_end', { cached: false, input_tokens: 300, output_tokens: 50, cost_usd: 0.001, seconds: 1.0, preview: 'It parses' }],
  [0, 'subcall_end', { cached: true, prompt_chars: 900, input_tokens: 0, output_tokens: 0 }],
  [0, 'subcall_end', { cached: false, input_tokens: 200, output_tokens: 40, cost_usd: 0.001, seconds: 1.2, preview: 'Also' }],
  [0, 'output', { chars: 120, preview: '[Hit(...)]', error: null, seconds: 0.4, killed: false, reset: false, final: false }],
  [0, 'iteration', { n: 2, max: 30 }],
  [0, 'model_call', { model: 'big', input_tokens: 2000, output_tokens: 80, cost_usd: 0.01, seconds: 2.0, text: '...' }],
  [0, 'code', { code: 'rlm_query("how does lexing work", scope="lex")' }],
  [0, 'child_start', { question: 'how does lexing work', scope: 'lex', degraded: false }],
  [1, 'run_start', { question: 'child q', root_model: 'big', sub_model: 'small', scope: 'lex' }],
  [1, 'iteration', { n: 1, max: 12 }],
  [1, 'model_call', { model: 'big', input_tokens: 700, output_tokens: 30, cost_usd: 0.0, seconds: 1.0, text: '...' }],
  [1, 'final', { answer: 'lexing', partial: false, reason: 'final', citations: ['lex/a.py:1'], unverified: [] }],
  [1, 'run_end', { iterations: 1, sub_calls: 0, input_tokens: 700, output_tokens: 30, cost_usd: 0, seconds: 1.1 }],
  [0, 'child_end', { partial: false, reason: 'final', answer: 'lexing', iterations: 1 }],
  [0, 'output', { chars: 10, preview: 'lexing', error: 'NameError: x', seconds: 1.2, killed: false, reset: false, final: false }],
  [0, 'final', { answer: 'In a.py:3', partial: false, reason: 'final', citations: ['a.py:3'], unverified: ['b.py:99 (b.py has 5 lines)'] }],
  [0, 'run_end', { iterations: 2, sub_calls: 3, input_tokens: 4700, output_tokens: 320, cost_usd: 0.022, seconds: 9.3 }],
]);

describe('TraceModel', () => {
  it('builds run → iterations → steps, with child runs nested under the call that started them', () => {
    const model = new TraceModel();
    for (const e of RUN) {
      model.add(e);
    }
    assert.deepEqual(outline(model.roots()), [
      'Where is X parsed? [2 iterations · 3 sub-calls · 5.0k tokens · $0.02 · 9.3 s]',
      '  Iteration 1 [2.2k tokens · 2.9 s]',
      '    Model big [1.6k tokens · 2.5 s · $0.01]',
      '    hits = repo.grep("parse") [2 lines]',
      '    llm_query [350 tokens · 1.0 s · $0.0010]',
      '    llm_query [240 tokens · 1.2 s · $0.0010]',
      '    llm_query (cached)',
      '    Output [120 chars · 0.4 s]',
      '  Iteration 2 [2.1k tokens · 3.2 s]',
      '    Model big [2.1k tokens · 2.0 s · $0.01]',
      '    rlm_query("how does lexing work", scope="lex") [1 line]',
      '    rlm_query [scope lex · how does lexing work · 1 iteration]',
      '      Iteration 1 [730 tokens · 1.0 s]',
      '        Model big [730 tokens · 1.0 s]',
      '      Final answer [1 citation]',
      '    Error [10 chars · 1.2 s] !',
      '  Final answer [1 citation · 1 unverified] !',
    ]);
  });

  it('shows sub-calls and children as running until their end events arrive', () => {
    const model = new TraceModel();
    for (const e of RUN.slice(0, 6)) {
      model.add(e);
    }
    const open = outline(model.roots()).filter((l) => l.endsWith('…'));
    assert.deepEqual(open, ['Where is X parsed? …', '    llm_query [900 chars…] …', '    llm_query [800 chars…] …']);
    assert.deepEqual(model.summary('r1'), {
      iteration: 1,
      maxIterations: 30,
      subcalls: 2,
      tokens: 1620,
      costUsd: 0.01,
      finished: false,
    });
    assert.equal(describeProgress(model.summary('r1')!), 'iteration 1/30 · 2 sub-calls · 1.6k tokens · $0.01');
  });

  it('keeps runs apart, newest first, and ignores kinds it does not know', () => {
    const model = new TraceModel();
    model.add(events('a', [[0, 'run_start', { question: 'first' }]])[0]);
    model.add(events('b', [[0, 'run_start', { question: 'second' }]])[0]);
    model.add(events('b', [[0, 'something_new', {}]])[0]);
    assert.deepEqual(
      model.roots().map((r) => [r.label, r.children.length]),
      [
        ['second', 0],
        ['first', 0],
      ],
    );
  });

  it('marks a killed block and an error event as problems', () => {
    const model = new TraceModel();
    for (const e of events('k', [
      [0, 'run_start', { question: 'q' }],
      [0, 'iteration', { n: 1, max: 3 }],
      [0, 'output', { chars: 0, preview: '', error: 'wall-clock limit', seconds: 60, killed: true, reset: true }],
      [0, 'error', { message: 'budget exhausted: iterations (3)\nmore' }],
    ])) {
      model.add(e);
    }
    assert.deepEqual(outline(model.roots()[0].children[0].children), [
      'Block killed [0 chars · 1 min 0 s] !',
      'Error: budget exhausted: iterations (3) !',
    ]);
  });
});
