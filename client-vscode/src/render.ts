/**
 * Answers and plans as HTML for the answer panel. The Markdown comes from a model that read
 * untrusted repository text, so raw HTML is escaped, only http(s) and mailto links survive, images
 * become their alt text (nothing is ever fetched), and every `path:line` citation becomes a link the
 * panel's script turns into "open this file at these lines". Pure: tested under plain Node.
 */

import MarkdownIt from 'markdown-it';

import {
  type Citation,
  type CitationIndex,
  citationLabel,
  findCitations,
  isSafeRelativePath,
  locationToCitation,
} from './citations';
import { type AskResult, type Location, type PlanResult, type PlanStep, totalUsage } from './protocol';

type Markdown = MarkdownIt.MarkdownIt;
type StateCore = MarkdownIt.StateCore;
type Token = MarkdownIt.Token;

/** markdown-it's `env`: what the citation renderer needs to link and mark citations. */
export interface RenderContext {
  rootUri: string;
  citations: CitationIndex;
  [key: string | symbol]: unknown;
}

const SAFE_LINK = /^(https?:|mailto:)/i;

export function createMarkdown(): Markdown {
  const md = new MarkdownIt({ html: false, linkify: false, typographer: false });
  md.validateLink = (url: string) => SAFE_LINK.test(url.trim());
  md.renderer.rules.image = (tokens, idx) => {
    const alt = tokens[idx].content;
    return alt ? `<span class="image-alt">[${md.utils.escapeHtml(alt)}]</span>` : '';
  };
  md.core.ruler.push('reporlm_citations', linkCitations);
  md.renderer.rules.cite_open = (tokens, idx, _options, env) =>
    citationOpen(md, tokens[idx].meta as unknown as Citation, env as RenderContext);
  md.renderer.rules.cite_close = (tokens, idx, _options, env) =>
    citationClose(md, tokens[idx].meta as unknown as Citation, env as RenderContext);
  return md;
}

/** Splits text runs (and whole inline code spans) around citations into cite_open/close tokens. */
function linkCitations(state: StateCore): void {
  for (const block of state.tokens) {
    if (block.type !== 'inline' || !block.children) {
      continue;
    }
    const out: Token[] = [];
    let linkDepth = 0;
    for (const token of block.children) {
      if (token.type === 'link_open') {
        linkDepth++;
      } else if (token.type === 'link_close') {
        linkDepth--;
      }
      if (linkDepth > 0) {
        out.push(token);
      } else if (token.type === 'text') {
        out.push(...splitText(state, token));
      } else if (token.type === 'code_inline') {
        const found = findCitations(token.content);
        out.push(...(found.length === 1 ? wrap(state, token, found[0]) : [token]));
      } else {
        out.push(token);
      }
    }
    block.children = out;
  }
}

function splitText(state: StateCore, token: Token): Token[] {
  const found = findCitations(token.content);
  if (found.length === 0) {
    return [token];
  }
  const out: Token[] = [];
  let at = 0;
  for (const c of found) {
    if (c.index > at) {
      out.push(textToken(state, token.content.slice(at, c.index)));
    }
    out.push(...wrap(state, textToken(state, token.content.slice(c.index, c.index + c.length)), c));
    at = c.index + c.length;
  }
  if (at < token.content.length) {
    out.push(textToken(state, token.content.slice(at)));
  }
  return out;
}

function textToken(state: StateCore, content: string): Token {
  const t = new state.Token('text', '', 0);
  t.content = content;
  return t;
}

function wrap(state: StateCore, inner: Token, c: Citation): Token[] {
  const meta: Citation = { path: c.path, start: c.start, end: c.end };
  const open = new state.Token('cite_open', 'a', 1);
  open.meta = { ...meta };
  const close = new state.Token('cite_close', 'a', -1);
  close.meta = { ...meta };
  return [open, inner, close];
}

/** The server's reason for a citation whose line exists but that the run never saw. */
export const NOT_SEEN = 'not seen in this run';

function citationOpen(md: Markdown, c: Citation, env: RenderContext): string {
  if (!isSafeRelativePath(c.path)) {
    return '<span class="cite unsafe">';
  }
  const verdict = env.citations.verdict(c);
  const cls = verdict.verified ? 'cite verified' : 'cite unverified';
  const title = verdict.verified
    ? `Open ${citationLabel(c)}`
    : `Open ${citationLabel(c)} (not verified: ${verdict.reason ?? 'unknown'})`;
  return citationAnchor(md, c, cls, title);
}

function citationClose(md: Markdown, c: Citation, env: RenderContext): string {
  if (!isSafeRelativePath(c.path)) {
    return '</span><span class="unverified-flag" title="Outside the repository: not opened">unverified</span>';
  }
  const verdict = env.citations.verdict(c);
  if (verdict.verified) {
    return '</a>';
  }
  const reason = md.utils.escapeHtml(`Not verified: ${verdict.reason ?? 'unknown'}`);
  // A real line the run never looked at: still a place in the repository, flagged apart.
  const flag = verdict.reason === NOT_SEEN ? 'not seen' : 'unverified';
  return `</a><span class="unverified-flag" title="${reason}">${flag}</span>`;
}

function citationAnchor(md: Markdown, c: Citation, cls: string, title: string): string {
  const esc = md.utils.escapeHtml;
  return (
    `<a href="#" class="${cls}" data-path="${esc(c.path)}" data-start="${c.start}" data-end="${c.end}"` +
    ` title="${esc(title)}">`
  );
}

export function renderAnswer(md: Markdown, result: AskResult, ctx: RenderContext): string {
  return md.render(result.answer ?? '', ctx);
}

/**
 * A plan as an ordered checklist: each step links to the files and symbols it names, and flags what
 * the server could not find. Risks follow, then the plan as the model wrote it.
 */
export function renderPlan(md: Markdown, result: PlanResult, ctx: RenderContext): string {
  const steps = result.steps ?? [];
  if (steps.length === 0) {
    return md.render(result.plan ?? '', ctx);
  }
  const summary = result.summary ? `<div class="plan-summary">${md.render(result.summary, ctx)}</div>` : '';
  const items = steps.map((step, i) => renderStep(md, ctx, step, 'plan-step', `<input type="checkbox" class="step-done" data-step="${i}"> `));
  const risks = result.risks?.length
    ? `<h3 class="plan-risks-title">Risks</h3><ul class="plan-risks">${result.risks.map((r) => renderStep(md, ctx, r, 'plan-risk', '')).join('')}</ul>`
    : '';
  const written = result.plan
    ? `<details class="plan-text"><summary>The plan as written</summary>${md.render(result.plan, ctx)}</details>`
    : '';
  return `${summary}<ol class="plan-steps">${items.join('')}</ol>${risks}${written}`;
}

function renderStep(md: Markdown, ctx: RenderContext, step: PlanStep, cls: string, checkbox: string): string {
  const links = (step.locations ?? [])
    .map((loc) => locationLink(md, ctx, loc))
    .filter((s) => s !== '');
  const missing = (step.unverified ?? []).map(
    (u) =>
      `<span class="unverified-ref" title="${md.utils.escapeHtml(`Not found: ${u.reason}`)}">` +
      `${md.utils.escapeHtml(u.text)}<span class="unverified-flag">unverified</span></span>`,
  );
  const refs = [...links, ...missing].join(' ');
  return (
    `<li class="${cls}"><label>${checkbox}` +
    `<span class="step-title">${md.renderInline(step.title ?? '', ctx)}</span></label>` +
    (step.detail ? `<div class="step-detail">${md.render(step.detail, ctx)}</div>` : '') +
    (refs ? `<div class="step-locations">${refs}</div>` : '') +
    '</li>'
  );
}

function locationLink(md: Markdown, ctx: RenderContext, loc: Location): string {
  const c = locationToCitation(ctx.rootUri, loc);
  if (!c || !isSafeRelativePath(c.path)) {
    return '';
  }
  return `${citationAnchor(md, c, 'cite verified location', `Open ${citationLabel(c)}`)}${md.utils.escapeHtml(citationLabel(c))}</a>`;
}

/** One line about a finished run: why it ended, turns, sub-calls, tokens, cost and time. */
export function describeRun(result: AskResult | PlanResult): string {
  const parts: string[] = [];
  if (result.partial) {
    parts.push(`partial (${result.reason ?? 'stopped early'})`);
  }
  if (result.iterations !== undefined) {
    parts.push(plural(result.iterations, 'iteration'));
  }
  if (result.sub_calls !== undefined) {
    parts.push(plural(result.sub_calls, 'sub-call'));
  }
  const usage = totalUsage(result.usage);
  const tokens = (usage.input_tokens ?? 0) + (usage.output_tokens ?? 0);
  if (tokens > 0) {
    parts.push(`${formatTokens(tokens)} tokens`);
  }
  if (usage.cost_usd) {
    parts.push(formatCost(usage.cost_usd));
  }
  if (result.seconds !== undefined) {
    parts.push(formatSeconds(result.seconds));
  }
  return parts.join(' · ');
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function formatTokens(n: number): string {
  if (n < 1000) {
    return String(n);
  }
  return n < 1_000_000 ? `${(n / 1000).toFixed(1)}k` : `${(n / 1_000_000).toFixed(2)}M`;
}

export function formatCost(usd: number): string {
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

export function formatSeconds(s: number): string {
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}
