/**
 * `path:line` citations: finding them in an answer the way the server does
 * (server/reporlm/engine/citations.py, kept in step by a parity test against the Python code),
 * telling verified from unverified ones, and turning LSP Locations into repository paths.
 * Pure: no VS Code API, so it is unit-tested under plain Node.
 */

import type { CitedLine, Location } from './protocol';

export interface Citation {
  /** Repository-relative POSIX path, as written (without a leading `./`). */
  path: string;
  /** 1-based first line. */
  start: number;
  /** 1-based last line (equal to start for a single line). */
  end: number;
}

export interface CitationMatch extends Citation {
  /** Offset of the match in the searched text, and its length. */
  index: number;
  length: number;
}

// Same shape as the server's pattern; `u` so \p{..} matches what Python's Unicode \w does.
const WORD = '[\\p{L}\\p{N}_]';
const SEG = `(?:${WORD}|[@+\\-.])`;
const PATH =
  `(?:\\.{0,2}/)?(?:${SEG}+/)*${SEG}*(?:${WORD}|-)\\.[A-Za-z][A-Za-z0-9_]*` + `|(?:${SEG}+/)+${SEG}+`;
const CITATION_SOURCE =
  `(?<!(?:${WORD}|[/.\\-]))(?<path>${PATH})` +
  `(?:#L|:|, line |:L)(?<start>\\d+)(?:\\s*[-–]\\s*L?(?<end>\\d+))?`;

/** Every citation in `text`, in order, with where it was found (duplicates included). */
export function findCitations(text: string): CitationMatch[] {
  const out: CitationMatch[] = [];
  for (const m of text.matchAll(new RegExp(CITATION_SOURCE, 'gu'))) {
    const groups = m.groups ?? {};
    let start = Number(groups.start);
    let end = groups.end !== undefined ? Number(groups.end) : start;
    if (end < start) {
      [start, end] = [end, start];
    }
    out.push({ path: stripDotSlash(groups.path), start, end, index: m.index ?? 0, length: m[0].length });
  }
  return out;
}

/** Distinct citations in order of first appearance: what the server's `extract` returns. */
export function extractCitations(text: string): Citation[] {
  const seen = new Map<string, Citation>();
  for (const { path, start, end } of findCitations(text)) {
    const key = citationKey({ path, start, end });
    if (!seen.has(key)) {
      seen.set(key, { path, start, end });
    }
  }
  return [...seen.values()];
}

export function citationKey(c: Citation): string {
  return `${c.path}:${c.start}-${c.end}`;
}

export function citationLabel(c: Citation): string {
  return c.end !== c.start ? `${c.path}:${c.start}-${c.end}` : `${c.path}:${c.start}`;
}

function stripDotSlash(path: string): string {
  return path.startsWith('./') ? path.slice(2) : path;
}

/** The file-system path of a `file:` URI, decoded; undefined for other schemes. */
export function fileUriPath(uri: string): string | undefined {
  const m = /^file:\/\/[^/]*(\/.*)$/i.exec(uri);
  if (!m) {
    return undefined;
  }
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return undefined;
  }
}

/** The repository-relative path of `uri`, or undefined when it lies outside `rootUri`. */
export function relativePath(rootUri: string, uri: string): string | undefined {
  const root = fileUriPath(rootUri);
  const target = fileUriPath(uri);
  if (root === undefined || target === undefined) {
    return undefined;
  }
  const prefix = root.endsWith('/') ? root : `${root}/`;
  return target.startsWith(prefix) ? target.slice(prefix.length) : undefined;
}

/** A Location as a citation of the repository at `rootUri` (lines 1-based). */
export function locationToCitation(rootUri: string, location: Location): Citation | undefined {
  const path = relativePath(rootUri, location.uri);
  if (path === undefined) {
    return undefined;
  }
  const start = location.range.start.line + 1;
  // An LSP range that ends at column 0 of a line does not include that line.
  const endLine = location.range.end.character === 0 && location.range.end.line > location.range.start.line
    ? location.range.end.line
    : location.range.end.line + 1;
  return { path, start, end: Math.max(start, endLine) };
}

/**
 * A repository-relative path that is safe to open under the root: no absolute paths, no `..`,
 * no empty segments. Answers come from a model that read untrusted text; a citation must not open
 * files outside the workspace.
 */
export function isSafeRelativePath(path: string): boolean {
  if (path === '' || path.startsWith('/') || path.includes('\\') || /^[A-Za-z]:/.test(path)) {
    return false;
  }
  return path.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

export interface Verdict {
  verified: boolean;
  /** Why it is not verified, when known. */
  reason?: string;
}

/**
 * Tells verified citations from the rest. The server's `cited` list says, for every citation of
 * the answer, whether it was verified and why not; its verified Locations are used too (plan steps
 * carry only those). A citation the server said nothing about is not verified.
 */
export class CitationIndex {
  private readonly verified = new Set<string>();
  private readonly reasons = new Map<string, string>();

  constructor(rootUri: string, locations: readonly Location[], cited: readonly CitedLine[] = []) {
    for (const location of locations) {
      const c = locationToCitation(rootUri, location);
      if (c) {
        this.verified.add(startKey(c));
      }
    }
    for (const c of cited) {
      const citation = { path: stripDotSlash(c.path), start: c.start, end: c.end };
      if (c.verified) {
        this.verified.add(startKey(citation));
      } else {
        this.reasons.set(citationKey(citation), c.reason || 'not verified');
      }
    }
  }

  verdict(c: Citation): Verdict {
    const reason = this.reasons.get(citationKey(c));
    if (reason === undefined && this.verified.has(startKey(c))) {
      return { verified: true };
    }
    return { verified: false, reason: reason ?? 'not confirmed by the server' };
  }
}

// Same file and first line: an LSP range's end is read two ways (inclusive or exclusive).
function startKey(c: Citation): string {
  return `${c.path}:${c.start}`;
}
