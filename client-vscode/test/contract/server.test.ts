/**
 * The protocol contract with the real Python server: `reporlm serve` over stdio, spoken to with
 * vscode-languageserver-protocol (the library under vscode-languageclient), models scripted. What
 * the extension relies on: initialize, settings as the extension maps them, ask with progress on
 * the client's token and trace events, citations the renderer links and marks, plan steps, explain,
 * status, cancel by request and by progress (partial answers), and a clean exit.
 */

import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import {
  CancellationTokenSource,
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  ExitNotification,
  InitializeRequest,
  InitializedNotification,
  type InitializeResult,
  type ProtocolConnection,
  ShutdownRequest,
  WorkDoneProgress,
  WorkDoneProgressCancelNotification,
  type WorkDoneProgressBegin,
  type WorkDoneProgressEnd,
  type WorkDoneProgressReport,
  createProtocolConnection,
} from 'vscode-languageserver-protocol/node';

import { CitationIndex, extractCitations } from '../../src/citations';
import { ServerCommands } from '../../src/constants';
import type { AskResult, PlanResult, TraceEvent } from '../../src/protocol';
import { createMarkdown, renderAnswer, renderPlan } from '../../src/render';
import { CHECK_ARGS, SERVER_ARGS, optionsUpdate, serverOptions } from '../../src/settings';
import { ASK_QUESTION, PLAN_GOAL, SLOW_QUESTION, type Fixture, makeFixture, pythonForTests, serverEnv } from '../support/fixture';

const WAIT_MS = 60_000; // a guard against hangs, not a speed check

/** The parts of `reporlm.server.status` these tests read. */
interface Status {
  index: { state: string; files?: number };
  provider: string;
  budget: { max_iterations: number; max_depth: number };
  configuration_error: string | null;
}

type Progress = WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd;

class Server {
  readonly traces: TraceEvent[] = [];
  readonly progress = new Map<string, Progress[]>();
  readonly stderr: string[] = [];
  private constructor(
    readonly proc: ChildProcessWithoutNullStreams,
    readonly connection: ProtocolConnection,
  ) {}

  static start(fixture: Fixture): Server {
    const proc = spawn(pythonForTests(), [...SERVER_ARGS], {
      cwd: fixture.repo,
      env: serverEnv(fixture.cache),
    });
    const connection = createProtocolConnection(proc.stdout, proc.stdin);
    const server = new Server(proc, connection);
    proc.stderr.on('data', (chunk: Buffer) => server.stderr.push(chunk.toString()));
    connection.onNotification('reporlm/trace', (event: TraceEvent) => {
      server.traces.push(event);
    });
    connection.listen();
    return server;
  }

  /** Collects every progress value sent for `token`. */
  watch(token: string): Progress[] {
    const values: Progress[] = [];
    this.progress.set(token, values);
    this.connection.onProgress(WorkDoneProgress.type, token, (v) => {
      values.push(v);
    });
    return values;
  }

  execute<T>(command: string, args: unknown, options: { token?: CancellationTokenSource; workDoneToken?: string } = {}): Promise<T> {
    return this.connection.sendRequest(
      ExecuteCommandRequest.type,
      { command, arguments: [args], workDoneToken: options.workDoneToken },
      options.token?.token,
    ) as Promise<T>;
  }

  events(kind?: string): TraceEvent[] {
    return this.traces.filter((e) => kind === undefined || e.kind === kind);
  }
}

async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await probe();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Live descendants of `pid`, from /proc: the sandbox workers a run starts. */
function descendants(pid: number): number[] {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,stat='], { encoding: 'utf8' });
  const children = new Map<number, number[]>();
  for (const line of out.trim().split('\n')) {
    const [p, pp, stat] = line.trim().split(/\s+/);
    if (!stat.startsWith('Z')) {
      children.set(Number(pp), [...(children.get(Number(pp)) ?? []), Number(p)]);
    }
  }
  const found: number[] = [];
  const todo = [pid];
  while (todo.length) {
    for (const c of children.get(todo.pop()!) ?? []) {
      found.push(c);
      todo.push(c);
    }
  }
  return found;
}

describe('the real reporlm server', { timeout: 5 * WAIT_MS }, () => {
  let fixture: Fixture;
  let server: Server;
  let init: InitializeResult;
  const rootUri = () => pathToFileURL(fixture.repo).href;
  const md = createMarkdown();

  before(async () => {
    fixture = makeFixture();
    server = Server.start(fixture);
    // Exactly what the extension sends: its settings mapped by serverOptions().
    const settings: Record<string, unknown> = {
      'budget.maxIterations': 8,
      serverOptions: { provider: 'scripted', script: fixture.script, blockSeconds: 600 },
    };
    init = await server.connection.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      rootUri: rootUri(),
      workspaceFolders: [{ uri: rootUri(), name: 'calc' }],
      capabilities: { window: { workDoneProgress: true }, general: { positionEncodings: ['utf-16'] } },
      initializationOptions: serverOptions((key) => settings[key]),
    });
    await server.connection.sendNotification(InitializedNotification.type, {});
  });

  after(async () => {
    if (server) {
      const exited = new Promise((r) => server.proc.once('exit', r));
      await server.connection.sendRequest(ShutdownRequest.type).catch(() => undefined);
      await server.connection.sendNotification(ExitNotification.type).catch(() => undefined);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (server.proc.exitCode === null) {
        server.proc.kill('SIGKILL');
        assert.fail(`the server did not exit after shutdown and exit:\n${server.stderr.join('')}`);
      }
      server.connection.dispose();
    }
    rmSync(fixture.dir, { recursive: true, force: true });
  });

  it('advertises the four commands the extension calls', () => {
    const commands = init.capabilities.executeCommandProvider?.commands ?? [];
    for (const c of Object.values(ServerCommands)) {
      assert.ok(commands.includes(c), `${c} in ${commands.join(', ')}`);
    }
    assert.equal(init.serverInfo?.name, 'reporlm');
  });

  it('reports status with the index state the status bar shows and the options the extension sent', async () => {
    const status = await until('the index', async () => {
      const s = await server.execute<Status>(ServerCommands.status, {});
      return s.index?.state === 'ready' && s;
    });
    assert.equal(status.index.files, 3);
    assert.equal(status.provider, 'scripted');
    assert.equal(status.budget.max_iterations, 8);
    assert.equal(status.configuration_error, null);
  });

  it('answers ask with progress on the client token, trace events and checked citations', async () => {
    const token = 'contract-ask';
    const progress = server.watch(token);
    const before = server.traces.length;
    const result = await server.execute<AskResult>(ServerCommands.ask, { question: ASK_QUESTION }, { workDoneToken: token });

    assert.equal(result.partial, false);
    assert.equal(result.reason, 'final');
    assert.match(result.answer, /calc\.py:1-3/);
    assert.ok(result.trace_id);
    assert.deepEqual(
      (result.cited ?? []).map((c) => [c.path, c.start, c.end, c.verified]),
      [
        ['calc.py', 1, 3, true],
        ['app.py', 5, 5, true],
        ['util.py', 4, 4, false],
      ],
    );
    assert.deepEqual(
      result.citations.map((l) => [l.uri, l.range.start.line, l.range.end.line]),
      [
        [`${rootUri()}/calc.py`, 0, 2],
        [`${rootUri()}/app.py`, 4, 4],
      ],
    );

    // Progress: begin, reports, end, all on the token the client chose.
    assert.equal(progress[0].kind, 'begin');
    assert.equal(progress.at(-1)?.kind, 'end');
    assert.ok(progress.some((p) => p.kind === 'report' && /iteration 1\/8/.test(p.message ?? '')), JSON.stringify(progress));

    // Trace: the run's events, in order, ending with final and run_end.
    const events = server.traces.slice(before).filter((e) => e.run === result.trace_id);
    const kinds = events.map((e) => e.kind);
    assert.equal(kinds[0], 'run_start');
    assert.deepEqual(kinds.slice(-2), ['final', 'run_end']);
    assert.ok(kinds.includes('code') && kinds.includes('output') && kinds.includes('model_call'));
    assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1));

    // What the panel shows: two links that open, one marked unverified with the server's reason.
    const ctx = { rootUri: rootUri(), citations: new CitationIndex(rootUri(), result.citations, result.cited) };
    const html = renderAnswer(md, result, ctx);
    const anchors = [...html.matchAll(/<a href="#" class="([^"]+)" data-path="([^"]+)" data-start="(\d+)"/g)].map((m) => `${m[1]} ${m[2]}:${m[3]}`);
    assert.deepEqual(anchors, ['cite verified calc.py:1', 'cite verified app.py:5', 'cite unverified util.py:4']);
    const reason = result.cited?.find((c) => !c.verified)?.reason ?? '';
    assert.ok(reason.length > 0);
    assert.ok(html.includes(md.utils.escapeHtml(`Not verified: ${reason}`)), html);
  });

  it('returns a plan whose steps link to the places the server found', async () => {
    const result = await server.execute<PlanResult>(ServerCommands.plan, { goal: PLAN_GOAL });
    assert.equal(result.partial, false);
    assert.deepEqual(result.steps.map((s) => s.title), ['Change the signature', 'Update the caller']);
    assert.deepEqual(
      result.steps.map((s) => s.locations.map((l) => `${l.uri.slice(rootUri().length + 1)}:${l.range.start.line + 1}`)),
      // Step 1: the cited range and the symbol `add`; step 2: the cited line, the file, the symbol `main`.
      [
        ['calc.py:1', 'calc.py:1'],
        ['app.py:5', 'calc.py:1', 'app.py:4'],
      ],
    );
    assert.ok(result.steps[1].unverified?.some((u) => u.text.includes('subtract')), JSON.stringify(result.steps[1]));
    const html = renderPlan(md, result, { rootUri: rootUri(), citations: new CitationIndex(rootUri(), result.citations ?? [], result.cited) });
    assert.equal((html.match(/class="step-done"/g) ?? []).length, 2);
    assert.match(html, /data-path="app.py" data-start="5"/);
    assert.match(html, /subtract[^<]*<span class="unverified-flag">unverified<\/span>/);
  });

  it('explains the symbol at a position, in the workspace folder the extension names', async () => {
    const result = await server.execute<AskResult>(ServerCommands.explain, {
      uri: `${rootUri()}/app.py`,
      position: { line: 4, character: 11 },
      folder: rootUri(),
    });
    assert.equal(result.folder, rootUri());
    assert.equal(result.partial, false);
    assert.match(result.answer, /returns `a \+ b`/);
    assert.deepEqual(result.cited?.map((c) => c.verified), [true, true]);
  });

  it('stops a run on $/cancelRequest and answers with the partial result', async () => {
    const token = 'contract-cancel';
    const progress = server.watch(token);
    const cancel = new CancellationTokenSource();
    const codeBefore = server.events('code').length;
    const request = server.execute<AskResult>(ServerCommands.ask, { question: SLOW_QUESTION }, { token: cancel, workDoneToken: token });
    await until('the block to start', () => server.events('code').length > codeBefore);
    const workers = await until('the sandbox worker', () => descendants(server.proc.pid!).length > 0 && descendants(server.proc.pid!));
    cancel.cancel();
    const result = await request;
    assert.equal(result.partial, true);
    assert.equal(result.reason, 'cancelled');
    assert.equal((progress.at(-1) as WorkDoneProgressEnd).message, 'partial (cancelled)');
    await until('the worker to be gone', () => workers.every((pid) => !alive(pid)));
  });

  it('stops a run on a progress cancel too', async () => {
    const token = 'contract-progress-cancel';
    server.watch(token);
    const codeBefore = server.events('code').length;
    const request = server.execute<AskResult>(ServerCommands.ask, { question: SLOW_QUESTION }, { workDoneToken: token });
    await until('the block to start', () => server.events('code').length > codeBefore);
    await server.connection.sendNotification(WorkDoneProgressCancelNotification.type, { token });
    const result = await request;
    assert.equal(result.partial, true);
    assert.equal(result.reason, 'cancelled');
  });

  it('takes changed settings, and a null puts an option back to its default', async () => {
    const first = { limits: { max_iterations: 8 } };
    const changed = { limits: { max_iterations: 3, max_depth: 0 } };
    await server.connection.sendNotification(DidChangeConfigurationNotification.type, {
      settings: { reporlm: optionsUpdate(first, changed) },
    });
    let status = await until('the new budget', async () => {
      const s = await server.execute<Status>(ServerCommands.status, {});
      return s.budget.max_iterations === 3 && s;
    });
    assert.equal(status.budget.max_depth, 0);
    await server.connection.sendNotification(DidChangeConfigurationNotification.type, {
      settings: { reporlm: optionsUpdate(changed, { limits: { max_iterations: 3 } }) },
    });
    status = await until('the default depth', async () => {
      const s = await server.execute<Status>(ServerCommands.status, {});
      return s.budget.max_depth === 1 && s;
    });
    assert.equal(status.budget.max_iterations, 3);
    assert.equal(status.provider, 'scripted', 'the rest of the options stay');
  });
});

describe('citation parsing', () => {
  it('finds the same citations as the server', () => {
    const samples = [
      'See src/app/main.py:12 and lib/util.ts:3-9.',
      'a.py#L4, b/c.go:L7, d.rs, line 10, e.js:20 – 22, ./f.py:2, x/Makefile:5',
      'at 10:30, http://host:8080/x, version:2, foo:12, prefix-a.py:3',
      '`pkg/ünï.py:7` and (docs/guide.md:1-2) [tests/test_x.py:40]',
      'a.py:9-3 a.py:3-9 .github/workflows/ci.yml:14 @scope/pkg/index.js:1',
    ];
    const script = [
      'import json, sys',
      'from reporlm.engine.citations import extract',
      'print(json.dumps([extract(t) for t in json.load(sys.stdin)]))',
    ].join('\n');
    const out = execFileSync(pythonForTests(), ['-c', script], { input: JSON.stringify(samples), encoding: 'utf8' });
    const python = JSON.parse(out) as Array<Array<[string, number, number]>>;
    const ours = samples.map((s) => extractCitations(s).map((c) => [c.path, c.start, c.end]));
    assert.deepEqual(ours, python);
    assert.ok(python.flat().length >= 15, 'the samples exercise the parser');
  });
});

describe('starting Python in a hostile workspace folder', { timeout: 2 * WAIT_MS }, () => {
  // The extension starts the server (and its version check) with the workspace folder as the
  // working directory: modules named like reporlm's own or its dependencies must never load.
  const names = ['reporlm', 'pygls', 'lsprotocol', 'platformdirs', 'rich', 'cattrs', 'json'];
  let dir: string;
  let marks: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'reporlm-hostile-'));
    marks = join(dir, 'marks');
    mkdirSync(marks);
    for (const name of names) {
      writeFileSync(join(dir, `${name}.py`), `open(${JSON.stringify(join(marks, name))}, 'w').write('imported')\n`);
    }
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('imports from the folder without -P (the control)', () => {
    execFileSync(pythonForTests(), ['-c', 'import platformdirs'], { cwd: dir });
    assert.deepEqual(readdirSync(marks), ['platformdirs']);
    rmSync(join(marks, 'platformdirs'));
  });

  it('runs the version check and the server without importing anything of the folder', async () => {
    const version = execFileSync(pythonForTests(), [...CHECK_ARGS], { cwd: dir, encoding: 'utf8' });
    assert.match(version, /^\d+\.\d+/);
    const proc = spawn(pythonForTests(), [...SERVER_ARGS], { cwd: dir, env: serverEnv(join(dir, 'cache')) });
    const exited = new Promise<number | null>((r) => proc.once('exit', r));
    proc.stdin.end(); // the server starts (importing pygls, lsprotocol, ...) and stops at end of input
    await exited;
    assert.deepEqual(readdirSync(marks), []);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
