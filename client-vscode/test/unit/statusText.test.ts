import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { describeStatus, indexSettled, indexState } from '../../src/statusText';

describe('status text', () => {
  it('reads the index state whether it is a word or an object', () => {
    assert.equal(indexState({ index: 'ready' }), 'ready');
    assert.equal(indexState({ index: { state: 'indexing', files: 120 } }), 'indexing, 120 files');
    assert.equal(
      indexState({ index: { state: 'indexing', files: 120, parsed: 40, to_parse: 100 } }),
      'indexing, 120 files, 40/100 parsed',
    );
    assert.equal(indexState({}), '');
  });

  it('knows when the index is still being built', () => {
    assert.equal(indexSettled({ index: { state: 'loading' } }), false);
    assert.equal(indexSettled({ index: { state: 'ready', files: 3 } }), true);
    assert.equal(indexSettled({ index: 'failed' }), true);
    assert.equal(indexSettled({}), true);
    // A workspace folder no question has needed yet stays so: nothing to wait for.
    assert.equal(indexSettled({ index: { state: 'not opened' } }), true);
    assert.equal(indexSettled({ index: { state: 'indexing', files: 3 } }), false);
  });

  it('flattens nested status into dotted lines', () => {
    assert.deepEqual(describeStatus({ provider: 'local', limits: { max_iterations: 30, max_depth: 1 }, models: ['a', 'b'] }), [
      'provider: local',
      'limits.max_iterations: 30',
      'limits.max_depth: 1',
      'models: a, b',
    ]);
  });

  it('numbers the workspace folders of a multi-root status', () => {
    const status = {
      repo: '/w/shop',
      folders: [
        { name: 'shop', index: { state: 'ready' } },
        { name: 'billing', index: { state: 'not opened' } },
      ],
    };
    assert.deepEqual(describeStatus(status), [
      'repo: /w/shop',
      'folders.1.name: shop',
      'folders.1.index.state: ready',
      'folders.2.name: billing',
      'folders.2.index.state: not opened',
    ]);
  });
});
