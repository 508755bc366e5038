import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import {
  CHECK_ARGS,
  RESTART_SETTINGS,
  SERVER_ARGS,
  SERVER_SETTINGS,
  configuredPython,
  optionsUpdate,
  serverOptions,
} from '../../src/settings';

function reader(values: Record<string, unknown>) {
  return (key: string) => values[key];
}

describe('serverOptions', () => {
  it('maps camelCase settings to the server option names and drops empty ones', () => {
    const options = serverOptions(
      reader({
        provider: 'openai',
        model: ' gpt-5 ',
        subModel: '',
        baseUrl: 'http://127.0.0.1:8000/v1',
        'budget.maxIterations': 12.7,
        'budget.maxCostUsd': 0.5,
        'budget.maxSeconds': null,
        'budget.maxDepth': 0,
      }),
    );
    assert.deepEqual(options, {
      provider: 'openai',
      model: 'gpt-5',
      base_url: 'http://127.0.0.1:8000/v1',
      limits: { max_iterations: 12, max_cost_usd: 0.5, max_depth: 0 },
    });
  });

  it('adds the advanced server options as they are, but never an API key', () => {
    const options = serverOptions(
      reader({ provider: 'anthropic', serverOptions: { maxRuns: 2, provider: 'scripted', apiKey: 'sk-x', api_key: 'sk-y' } }),
    );
    assert.deepEqual(options, { provider: 'scripted', maxRuns: 2 });
  });

  it('sends nothing when nothing is set, so the server keeps its defaults', () => {
    assert.deepEqual(serverOptions(reader({ provider: '', 'budget.maxSubCalls': -1, 'budget.maxSeconds': Number.NaN })), {});
  });

  it('lists every mapped setting as one the server receives', () => {
    assert.ok(SERVER_SETTINGS.includes('reporlm.subModel'));
    assert.ok(SERVER_SETTINGS.includes('reporlm.budget.maxDepth'));
    assert.ok(!SERVER_SETTINGS.includes('reporlm.pythonPath'));
  });
});

describe('optionsUpdate', () => {
  it('sends null for what was set before and is not now, so the server returns to its default', () => {
    const before = { provider: 'openai', model: 'm', limits: { max_iterations: 5, max_depth: 2 }, maxRuns: 2 };
    const after = { provider: 'openai', limits: { max_depth: 1 } };
    assert.deepEqual(optionsUpdate(before, after), {
      provider: 'openai',
      model: null,
      maxRuns: null,
      limits: { max_depth: 1, max_iterations: null },
    });
  });

  it('sends the options unchanged when nothing was unset', () => {
    assert.deepEqual(optionsUpdate({}, { model: 'x' }), { model: 'x' });
  });
});

describe('configuredPython', () => {
  it('uses the setting when it is set, else leaves the choice to the Python extension', () => {
    assert.equal(configuredPython(reader({ pythonPath: ' /opt/venv/bin/python ' })), '/opt/venv/bin/python');
    assert.equal(configuredPython(reader({ pythonPath: '' })), undefined);
    assert.equal(configuredPython(reader({})), undefined);
  });
});

describe('starting Python', () => {
  it('never puts the working directory (the workspace folder) on sys.path', () => {
    // `-m` or `-c` alone would: a `pygls.py` in the repository would then run inside the server.
    assert.deepEqual(SERVER_ARGS, ['-P', '-m', 'reporlm', 'serve']);
    assert.equal(CHECK_ARGS[0], '-P');
    assert.equal(CHECK_ARGS[1], '-c');
  });
});

describe('package.json settings', () => {
  const manifest = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8'));
  const properties: Record<string, { scope?: string }> = manifest.contributes.configuration.properties;

  it('declares exactly the settings the extension reads', () => {
    const declared = Object.keys(properties).sort();
    const clientOnly = ['reporlm.trace.server'];
    assert.deepEqual(declared, [...SERVER_SETTINGS, ...RESTART_SETTINGS, ...clientOnly].sort());
  });

  it("lets no workspace's .vscode/settings.json choose the interpreter, endpoint, models, budget or options", () => {
    // A repository is untrusted: `machine` settings come only from the user's (or remote) settings.
    for (const key of [...SERVER_SETTINGS, ...RESTART_SETTINGS]) {
      assert.ok(['machine', 'application'].includes(properties[key]?.scope ?? ''), `${key}: ${properties[key]?.scope}`);
    }
  });

  it('runs nothing in Restricted Mode', () => {
    assert.equal(manifest.capabilities.untrustedWorkspaces.supported, false);
    assert.ok(manifest.capabilities.untrustedWorkspaces.description);
  });
});
