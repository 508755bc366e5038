import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  CitationIndex,
  extractCitations,
  findCitations,
  isSafeRelativePath,
  locationToCitation,
  relativePath,
} from '../../src/citations';

const ROOT = 'file:///work/my%20repo';

function loc(path: string, startLine: number, endLine: number, endChar = 0) {
  return {
    uri: `${ROOT}/${path}`,
    range: { start: { line: startLine, character: 0 }, end: { line: endLine, character: endChar } },
  };
}

describe('findCitations', () => {
  it('finds single lines and ranges with their offsets', () => {
    const text = 'See src/app/main.py:12 and lib/util.ts:3-9.';
    const found = findCitations(text);
    assert.deepEqual(
      found.map((c) => [c.path, c.start, c.end]),
      [
        ['src/app/main.py', 12, 12],
        ['lib/util.ts', 3, 9],
      ],
    );
    assert.equal(text.slice(found[0].index, found[0].index + found[0].length), 'src/app/main.py:12');
    assert.equal(text.slice(found[1].index, found[1].index + found[1].length), 'lib/util.ts:3-9');
  });

  it('accepts the other spellings the server accepts', () => {
    const text = 'a.py#L4, b/c.go:L7, d.rs, line 10, e.js:20 – 22, ./f.py:2, x/Makefile:5';
    assert.deepEqual(
      extractCitations(text).map((c) => [c.path, c.start, c.end]),
      [
        ['a.py', 4, 4],
        ['b/c.go', 7, 7],
        ['d.rs', 10, 10],
        ['e.js', 20, 22],
        ['f.py', 2, 2],
        ['x/Makefile', 5, 5],
      ],
    );
  });

  it('orders a reversed range', () => {
    assert.deepEqual(extractCitations('a.py:9-3'), [{ path: 'a.py', start: 3, end: 9 }]);
  });

  it('ignores times, URLs and words without a path shape', () => {
    assert.deepEqual(extractCitations('at 10:30, http://host:8080/x, version:2, foo:12'), []);
  });

  it('does not start a match in the middle of a longer path or word', () => {
    assert.deepEqual(
      extractCitations('prefix-a.py:3').map((c) => c.path),
      ['prefix-a.py'],
    );
  });

  it('keeps each distinct citation once, in order', () => {
    assert.deepEqual(
      extractCitations('b.py:2 a.py:1 b.py:2 a.py:1-2').map((c) => `${c.path}:${c.start}-${c.end}`),
      ['b.py:2-2', 'a.py:1-1', 'a.py:1-2'],
    );
  });
});

describe('paths and locations', () => {
  it('maps a Location under the root to a repository path, decoding the URI', () => {
    assert.equal(relativePath(ROOT, `${ROOT}/src/a%20b.py`), 'src/a b.py');
    assert.equal(relativePath(ROOT, 'file:///work/other/a.py'), undefined);
    assert.equal(relativePath(ROOT, 'file:///work/my%20repository/a.py'), undefined);
    assert.equal(relativePath(ROOT, 'untitled:Untitled-1'), undefined);
  });

  it('reads an LSP range as 1-based inclusive lines', () => {
    assert.deepEqual(locationToCitation(ROOT, loc('a.py', 9, 10, 0)), { path: 'a.py', start: 10, end: 10 });
    assert.deepEqual(locationToCitation(ROOT, loc('a.py', 9, 11, 4)), { path: 'a.py', start: 10, end: 12 });
    assert.deepEqual(locationToCitation(ROOT, loc('a.py', 4, 4, 0)), { path: 'a.py', start: 5, end: 5 });
  });

  it('refuses paths that would leave the workspace', () => {
    for (const bad of ['/etc/passwd', '../x.py', 'a/../../x.py', 'a//b.py', 'C:/x.py', 'a\\b.py', '', './a.py']) {
      assert.equal(isSafeRelativePath(bad), false, bad);
    }
    for (const good of ['a.py', 'src/x-y/z.test.ts', '.github/workflows/ci.yml']) {
      assert.equal(isSafeRelativePath(good), true, good);
    }
  });
});

describe('CitationIndex', () => {
  it('marks citations the server verified, and gives the reason for the others', () => {
    const index = new CitationIndex(ROOT, [loc('src/a.py', 2, 4, 0)], [
      { path: 'src/gone.py', start: 1, end: 1, verified: false, reason: 'no such file' },
      { path: 'lib/b.ts', start: 7, end: 9, verified: true, reason: '' },
    ]);
    assert.deepEqual(index.verdict({ path: 'lib/b.ts', start: 7, end: 9 }), { verified: true });
    assert.deepEqual(index.verdict({ path: 'src/a.py', start: 3, end: 4 }), { verified: true });
    assert.deepEqual(index.verdict({ path: 'src/gone.py', start: 1, end: 1 }), {
      verified: false,
      reason: 'no such file',
    });
    assert.equal(index.verdict({ path: 'src/a.py', start: 9, end: 9 }).verified, false);
    assert.equal(index.verdict({ path: 'src/b.py', start: 3, end: 3 }).verified, false);
  });

  it('trusts the server saying a range is unverified over a verified one starting on the same line', () => {
    const index = new CitationIndex(ROOT, [], [
      { path: 'a.py', start: 3, end: 4, verified: true },
      { path: 'a.py', start: 3, end: 400, verified: false, reason: 'a.py has 10 lines' },
    ]);
    assert.equal(index.verdict({ path: 'a.py', start: 3, end: 4 }).verified, true);
    assert.deepEqual(index.verdict({ path: 'a.py', start: 3, end: 400 }), { verified: false, reason: 'a.py has 10 lines' });
  });
});
