/**
 * A small repository and a script of model replies for the real server's `scripted` provider
 * (server/reporlm/lsp/script.py): each question follows its own conversation, matched by a regex
 * on the first user message, so tests can run them in any order.
 */

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const FILES: Record<string, string> = {
  'calc.py': 'def add(a, b):\n    """Add two numbers."""\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n',
  'app.py': 'from calc import add\n\n\ndef main():\n    print(add(2, 3))\n\n\nif __name__ == "__main__":\n    main()\n',
  'README.md': '# calc\n\nA tiny calculator used by the reporlm extension tests.\n',
};

/** The answer the scripted model gives to ASK_QUESTION: two citations that hold, one that does not. */
export const ASK_QUESTION = 'Where is add defined and who calls it?';
export const ASK_ANSWER =
  '`add` is defined in calc.py:1-3 and returns the sum of its arguments. ' +
  'It is called from `app.py:5`, inside `main`. The old helper in util.py:4 is gone.';

export const SLOW_QUESTION = 'A slow question that only Cancel can end';
export const PLAN_GOAL = 'Make add take any number of arguments';
export const PLAN = `# Plan: make add variadic

Let add sum any number of arguments.

## Steps

### 1. Change the signature
Take \`*numbers\` and return their sum.
Touches: \`calc.py:1-3\` (\`add\`)

### 2. Update the caller
Touches: \`app.py:5\` (\`main\`), \`calc.py\` (\`subtract\`)

## Risks
- Callers passing keyword arguments: \`app.py:5\`
`;

export const EXPLAIN_ANSWER = '`add` (calc.py:1-3) returns `a + b`; `main` calls it at app.py:5.';

function repl(code: string): string {
  return '```repl\n' + code + '\n```';
}

/** Regex-escaped text, for a conversation's `match`. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export const SCRIPT = {
  conversations: [
    {
      match: literal(ASK_QUESTION),
      turns: [repl("print(repo.grep(r'add\\('))"), `FINAL(${ASK_ANSWER})`],
    },
    {
      match: literal(SLOW_QUESTION),
      turns: [repl("import time\nprint('sleeping', flush=True)\ntime.sleep(300)")],
    },
    {
      match: literal(PLAN_GOAL),
      turns: [repl("print(repo.grep('add'))"), repl(`plan = ${JSON.stringify(PLAN)}\nFINAL_VAR('plan')`)],
    },
    {
      match: 'Explain `add`',
      // The answer cites the caller too, so the run looks it up (a line it never saw is "not seen").
      turns: [repl("print(repo.read('calc.py', 1, 3))\nprint(repo.callers('add'))"), `FINAL(${EXPLAIN_ANSWER})`],
    },
  ],
};

export interface Fixture {
  /** Scratch folder holding everything below. */
  dir: string;
  repo: string;
  script: string;
  cache: string;
}

export function makeFixture(prefix = 'reporlm-ext-'): Fixture {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const repo = join(dir, 'calc');
  for (const [path, text] of Object.entries(FILES)) {
    mkdirSync(join(repo, path, '..'), { recursive: true });
    writeFileSync(join(repo, path), text);
  }
  const script = join(dir, 'script.json');
  writeFileSync(script, JSON.stringify(SCRIPT));
  const cache = join(dir, 'cache');
  mkdirSync(cache);
  return { dir, repo, script, cache };
}

/** The Python that has reporlm: $REPORLM_PYTHON, else the repository's .venv. */
export function pythonForTests(): string {
  return process.env.REPORLM_PYTHON ?? resolve(__dirname, '../../../../.venv/bin/python');
}

/** The server's environment in tests: no API keys, no REPORLM_* from the developer's shell. */
export function serverEnv(cache: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.endsWith('_API_KEY') && !k.startsWith('REPORLM_')) {
      env[k] = v;
    }
  }
  env.REPORLM_CACHE_DIR = cache;
  return env;
}
