import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { CitationIndex } from '../../src/citations';
import type { AskResult, PlanResult } from '../../src/protocol';
import { createMarkdown, describeRun, renderAnswer, renderPlan } from '../../src/render';

const ROOT = 'file:///repo';
const md = createMarkdown();

function location(path: string, line: number) {
  return { uri: `${ROOT}/${path}`, range: { start: { line: line - 1, character: 0 }, end: { line, character: 0 } } };
}

function answer(text: string, verified: string[] = [], extra: Partial<AskResult> = {}): string {
  const citations = verified.map((v) => {
    const [path, line] = v.split(':');
    return location(path, Number(line));
  });
  const result: AskResult = { answer: text, citations, partial: false, trace_id: 't', ...extra };
  const ctx = { rootUri: ROOT, citations: new CitationIndex(ROOT, citations, result.cited) };
  return renderAnswer(md, result, ctx);
}

/** The citation anchors in rendered HTML: [class, data-path, data-start, data-end, text]. */
function anchors(html: string): string[][] {
  return [...html.matchAll(/<a href="#" class="([^"]+)" data-path="([^"]+)" data-start="(\d+)" data-end="(\d+)"[^>]*>(.*?)<\/a>/g)].map(
    (m) => m.slice(1),
  );
}

describe('renderAnswer', () => {
  it('links verified citations in text and in inline code', () => {
    const html = answer('Parsing starts in src/parse.py:10, see `src/lex.py:3-5`.', ['src/parse.py:10', 'src/lex.py:3']);
    assert.deepEqual(anchors(html), [
      ['cite verified', 'src/parse.py', '10', '10', 'src/parse.py:10'],
      ['cite verified', 'src/lex.py', '3', '5', '<code>src/lex.py:3-5</code>'],
    ]);
    assert.doesNotMatch(html, /unverified/);
  });

  it('marks a citation the server did not verify, with its reason', () => {
    const html = answer('Maybe a.py:99.', [], { cited: [{ path: 'a.py', start: 99, end: 99, verified: false, reason: 'a.py has 20 lines' }] });
    assert.deepEqual(anchors(html).map((a) => a[0]), ['cite unverified']);
    assert.match(html, /<span class="unverified-flag" title="Not verified: a.py has 20 lines">unverified<\/span>/);
  });

  it('flags a real line the run never saw as not seen, still linked', () => {
    const html = answer('Perhaps a.py:7.', [], { cited: [{ path: 'a.py', start: 7, end: 7, verified: false, reason: 'not seen in this run' }] });
    assert.deepEqual(anchors(html).map((a) => a[0]), ['cite unverified']);
    assert.match(html, /<span class="unverified-flag" title="Not verified: not seen in this run">not seen<\/span>/);
  });

  it('does not link paths outside the repository', () => {
    const html = answer('Look at ../secrets/key.txt:1');
    assert.deepEqual(anchors(html), []);
    assert.match(html, /class="cite unsafe"/);
  });

  it('escapes raw HTML from the model', () => {
    const html = answer('<img src=x onerror=alert(1)> <script>alert(2)</script> a.py:1', ['a.py:1']);
    assert.doesNotMatch(html, /<img|<script/);
    assert.match(html, /&lt;script&gt;/);
  });

  it('keeps http links, drops other schemes and never loads images', () => {
    const html = answer('[docs](https://example.org/x) [bad](javascript:alert(1)) [file](file:///etc/passwd) ![logo](https://tracker.example/p.png)');
    assert.match(html, /<a href="https:\/\/example.org\/x">docs<\/a>/);
    assert.doesNotMatch(html, /href="javascript|href="file:/);
    assert.doesNotMatch(html, /<img/);
    assert.match(html, /<span class="image-alt">\[logo\]<\/span>/);
  });

  it('leaves citations inside links and code blocks alone', () => {
    const html = answer('[a.py:1](https://example.org)\n\n```\nb.py:2\n```', ['a.py:1', 'b.py:2']);
    assert.deepEqual(anchors(html), []);
  });

  it('links each citation in a sentence with several', () => {
    const html = answer('Both a.py:1 and b.py:2-4 and again a.py:1.', ['a.py:1', 'b.py:2']);
    assert.deepEqual(
      anchors(html).map((a) => a[4]),
      ['a.py:1', 'b.py:2-4', 'a.py:1'],
    );
    assert.match(html, /Both <a/);
    assert.match(html, /<\/a> and again <a/);
  });
});

describe('renderPlan', () => {
  const plan: PlanResult = {
    plan: '1. Add the flag\n2. Test it',
    steps: [
      { title: 'Add the `--json` flag', detail: 'In cli.py:20, next to the others.', locations: [location('cli.py', 20)] },
      {
        title: 'Test it',
        detail: '',
        locations: [location('tests/test_cli.py', 1), { uri: 'file:///elsewhere/x.py', range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } }],
        unverified: [{ kind: 'symbol', text: 'run_export', reason: 'no such symbol' }],
      },
    ],
    risks: [{ title: 'Output format changes', detail: 'Scripts parse it.', locations: [], unverified: [] }],
    partial: false,
    trace_id: 't',
  };
  const ctx = { rootUri: ROOT, citations: new CitationIndex(ROOT, plan.steps.flatMap((s) => s.locations)) };

  it('renders an ordered checklist whose steps link to their locations', () => {
    const html = renderPlan(md, plan, ctx);
    assert.equal((html.match(/<li class="plan-step">/g) ?? []).length, 2);
    assert.equal((html.match(/<input type="checkbox" class="step-done" data-step="\d">/g) ?? []).length, 2);
    assert.match(html, /<span class="step-title">Add the <code>--json<\/code> flag<\/span>/);
    assert.deepEqual(
      anchors(html).map((a) => `${a[0]}|${a[1]}:${a[2]}`),
      ['cite verified|cli.py:20', 'cite verified location|cli.py:20', 'cite verified location|tests/test_cli.py:1'],
    );
    assert.match(html, /<details class="plan-text">/);
  });

  it('flags what a step names that the server did not find, and lists the risks', () => {
    const html = renderPlan(md, plan, ctx);
    assert.match(html, /<span class="unverified-ref" title="Not found: no such symbol">run_export<span class="unverified-flag">unverified<\/span><\/span>/);
    assert.match(html, /<h3 class="plan-risks-title">Risks<\/h3><ul class="plan-risks"><li class="plan-risk"><label><span class="step-title">Output format changes<\/span>/);
  });

  it('falls back to the plan text when there are no steps', () => {
    const html = renderPlan(md, { ...plan, steps: [] }, ctx);
    assert.match(html, /<ol>\s*<li>Add the flag<\/li>/);
  });
});

describe('describeRun', () => {
  it('sums tokens across root and sub usage and says why a run was partial', () => {
    const text = describeRun({
      answer: '',
      citations: [],
      partial: true,
      reason: 'iterations',
      iterations: 3,
      sub_calls: 1,
      seconds: 75.2,
      usage: { total: { input_tokens: 12000, output_tokens: 345, cost_usd: 0.0042 } },
      trace_id: 't',
    });
    assert.equal(text, 'partial (iterations) · 3 iterations · 1 sub-call · 12.3k tokens · $0.0042 · 1 min 15 s');
  });
});
