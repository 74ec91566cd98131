// Starts a real VS Code (npm code-server 4.100.3) and drives it with Debian Chromium through playwright-core.
// Nothing is mocked; when code-server or Chromium is missing the suite fails with the setup command to run.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';

/** The repository root, which is also the extension's development path (tests run from dist/test/extension). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CODE_SERVER = path.join(REPO_ROOT, '.cache', 'code-server', 'node_modules', '.bin', 'code-server');
export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = path.join(REPO_ROOT, 'artifacts', 'extension');

/** Fails loudly (never skips) when the real VS Code or the browser is not installed. */
export function assertToolsInstalled(): void {
  const missing: string[] = [];
  if (!existsSync(CODE_SERVER)) missing.push(`code-server (${CODE_SERVER}): run "bash scripts/install-code-server.sh"`);
  if (!existsSync(CHROMIUM)) missing.push(`Chromium (${CHROMIUM}): run "apt-get install -y chromium" as root`);
  if (missing.length > 0) throw new Error(`The VS Code end-to-end tests need:\n  ${missing.join('\n  ')}\n(or run "npm run setup").`);
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A running code-server with its own user-data and extensions folders. */
export interface CodeServer {
  port: number;
  /**
   * The URL that opens `folder`: with this repository as the extension under development, or, when the
   * server was started with a .vsix, with the installed extension only (extension-host tests still load
   * the repository as the development extension).
   */
  url(folder: string, extensionTestsPath?: string): string;
  /** The folder the .vsix was installed into (under the fresh extensions folder), when started with one. */
  installedExtension?: string;
  stop(): Promise<void>;
}

/** What `code-server --install-extension <vsix>` printed, and the extension folders it left. */
export interface ExtensionInstall {
  code: number;
  output: string;
  installed: string[];
}

/** Installs a .vsix into the given extensions folder with code-server's own `--install-extension`. */
export async function installExtension(vsix: string, dirs: { extensionsDir: string; userDataDir: string }): Promise<ExtensionInstall> {
  // an explicit --config keeps code-server from writing its default one into ~/.config
  const config = path.join(dirs.userDataDir, 'install-config.yaml');
  await fs.mkdir(dirs.userDataDir, { recursive: true });
  await fs.writeFile(config, 'auth: none\ncert: false\n');
  return new Promise((resolve, reject) => {
    const child = spawn(CODE_SERVER, ['--config', config, '--extensions-dir', dirs.extensionsDir, '--user-data-dir', dirs.userDataDir,
      '--install-extension', vsix],
      { env: { ...process.env, VSCODE_PROXY_URI: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', async (code) => {
      const entries = await fs.readdir(dirs.extensionsDir, { withFileTypes: true }).catch(() => []);
      const installed = entries.filter((entry) => entry.isDirectory() && !entry.name.startsWith('.')).map((entry) => path.join(dirs.extensionsDir, entry.name));
      resolve({ code: code ?? -1, output, installed });
    });
  });
}

/**
 * Starts code-server on a free port with temp settings (startup editor off) and waits for /healthz. With
 * `vsix`, first installs that package into the fresh extensions folder (failing when code-server refuses it).
 */
export async function startCodeServer(options: { logFile: string; userSettings?: Record<string, unknown>; vsix?: string; workspaceTrust?: boolean }): Promise<CodeServer> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'imgcls-code-server-'));
  const port = await freePort();
  const userDataDir = path.join(home, 'user-data');
  const extensionsDir = path.join(home, 'extensions');
  await fs.mkdir(path.join(userDataDir, 'User'), { recursive: true });
  await fs.mkdir(extensionsDir, { recursive: true });
  const settings = {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'security.workspace.trust.enabled': options.workspaceTrust === true,
    // with trust on, folders open in Restricted Mode without asking
    ...(options.workspaceTrust ? { 'security.workspace.trust.startupPrompt': 'never', 'security.workspace.trust.untrustedFiles': 'open' } : {}),
    'window.restoreWindows': 'none',
    'telemetry.telemetryLevel': 'off',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'update.mode': 'none',
    'chat.commandCenter.enabled': false,
    'workbench.editor.restoreViewState': false,
    ...options.userSettings,
  };
  await fs.writeFile(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
  let installedExtension: string | undefined;
  if (options.vsix) {
    const install = await installExtension(options.vsix, { extensionsDir, userDataDir });
    if (install.code !== 0 || install.installed.length !== 1) {
      await fs.rm(home, { recursive: true, force: true });
      throw new Error(`code-server --install-extension ${options.vsix} failed (exit ${install.code}):\n${install.output}`);
    }
    installedExtension = install.installed[0];
  }
  const config = path.join(home, 'config.yaml');
  await fs.writeFile(config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  await fs.mkdir(path.dirname(options.logFile), { recursive: true });
  const log = createWriteStream(options.logFile);
  const child: ChildProcess = spawn(
    CODE_SERVER,
    ['--config', config, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir,
      '--disable-telemetry', '--disable-update-check', ...(options.workspaceTrust ? [] : ['--disable-workspace-trust']), '--disable-getting-started-override'],
    { env: { ...process.env, VSCODE_PROXY_URI: '' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let exited: number | null = null;
  child.on('exit', (code) => {
    exited = code ?? -1;
  });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exited !== null) throw new Error(`code-server exited with code ${exited}; see ${options.logFile}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`code-server did not answer /healthz within 120 s; see ${options.logFile}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const remote = (file: string) => `vscode-remote://127.0.0.1:${port}${file}`;
  return {
    port,
    installedExtension,
    url(folder, extensionTestsPath) {
      const payload: [string, string][] = installedExtension && !extensionTestsPath ? [] : [['extensionDevelopmentPath', remote(REPO_ROOT)]];
      if (extensionTestsPath) payload.push(['extensionTestsPath', remote(extensionTestsPath)]);
      const query = `folder=${encodeURIComponent(folder)}`;
      return `http://127.0.0.1:${port}/?${payload.length > 0 ? `${query}&payload=${encodeURIComponent(JSON.stringify(payload))}` : query}`;
    },
    async stop() {
      if (exited === null && child.pid) {
        const done = new Promise((resolve) => child.once('exit', resolve));
        try {
          process.kill(-child.pid, 'SIGTERM'); // the whole group: code-server forks its server and extension hosts
        } catch {
          // already gone
        }
        await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 10_000))]);
        if (exited === null) {
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      log.end();
      await fs.rm(home, { recursive: true, force: true });
    },
  };
}

/** Launches Debian Chromium headless through playwright-core. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
}

/** Waits until the workbench has loaded the explorer of the opened folder. */
export async function waitForWorkbench(page: Page, timeoutMs = 180_000): Promise<void> {
  await page.locator('.monaco-workbench').waitFor({ timeout: timeoutMs });
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: timeoutMs });
}

/** Runs a command from the palette, retrying while the palette does not list it yet (it may take ~10 s after load). */
export async function runFromPalette(page: Page, label: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input.input');
    await input.waitFor({ timeout: 20_000 });
    await input.fill(`>${label}`);
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first();
    try {
      await row.waitFor({ timeout: 5_000 });
      await page.keyboard.press('Enter');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
}

/** The explorer row of a file or folder, by its accessible name. */
export function explorerRow(page: Page, name: string) {
  return page.locator(`.explorer-folders-view .monaco-list-row[aria-label="${name}"]`);
}

/**
 * Right-clicks an explorer row and chooses a context-menu item (hovering first, as the menu needs); reopens the
 * menu while the item is missing (contributions appear once the extension host has registered the extension).
 */
export async function contextMenu(page: Page, rowName: string, item: string, timeoutMs = 120_000): Promise<void> {
  const row = explorerRow(page, rowName);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await row.waitFor({ timeout: 30_000 });
    await row.click({ button: 'right' });
    const entry = page.locator('.context-view .monaco-menu .action-item', { hasText: item }).first();
    try {
      await entry.waitFor({ timeout: 10_000 });
    } catch (err) {
      await page.keyboard.press('Escape');
      if (Date.now() > deadline) throw err;
      continue;
    }
    await entry.hover();
    await page.waitForTimeout(300);
    await entry.click();
    return;
  }
}

/** Waits until the extension is active: its status bar item names the selected model. */
export async function waitForExtension(page: Page, timeoutMs = 300_000): Promise<void> {
  await page.locator('.statusbar-item', { hasText: /\.imgcls|no model/ }).first().waitFor({ timeout: timeoutMs });
}

/** Waits for a notification toast whose text matches, and returns its text. */
export async function waitForNotification(page: Page, pattern: RegExp, timeoutMs = 180_000): Promise<string> {
  const toast = page.locator('.notification-toast .notification-list-item-message').filter({ hasText: pattern }).first();
  await toast.waitFor({ timeout: timeoutMs });
  return (await toast.textContent()) ?? '';
}

/** The webview frame (inner #active-frame) that contains `selector`, polling until one does. */
export async function webviewFrame(page: Page, selector: string, timeoutMs = 120_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const frame of page.frames()) {
      try {
        if (await frame.$(selector)) return frame;
      } catch {
        // frame navigated away while looking
      }
    }
    if (Date.now() > deadline) throw new Error(`no webview frame shows ${selector} within ${timeoutMs} ms`);
    await page.waitForTimeout(500);
  }
}
