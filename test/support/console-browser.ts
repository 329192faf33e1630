/**
 * The browser side of the console test: Debian's Chromium through playwright-core, a page that
 * records every request to a host other than the server (and blocks it), console errors and CSP
 * violations, and screenshots at the two sizes the console is made for.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './browser.js';
import { ROOT } from './processes.js';

/** Where the test writes its screenshots; CI keeps the folder as an artifact. */
export const SCREENSHOT_DIR = join(ROOT, 'test-artifacts/console');
export const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;

export interface WatchedPage {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Requests to any origin but the server's (each was aborted). */
  foreign: string[];
  consoleErrors: string[];
  cspViolations(): Promise<string[]>;
}

export async function openWatchedPage(base: string): Promise<WatchedPage> {
  // A fake microphone (a beeping tone) that needs no permission prompt.
  const browser = await launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream']);
  const context = await browser.newContext({ viewport: VIEWPORTS.desktop, permissions: ['microphone'] });
  const origin = new URL(base).origin;
  const foreign: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || new URL(url).origin === origin) return route.continue();
    foreign.push(url);
    return route.abort();
  });
  // Every violation of the server's Content-Security-Policy, from the first script on.
  await context.addInitScript(`
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
  `);
  const page = await context.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(`${m.text()} ${m.location().url}`));
  page.on('pageerror', (e) => consoleErrors.push(`uncaught: ${e.message}`));
  return {
    browser,
    context,
    page,
    foreign,
    consoleErrors,
    cspViolations: () => page.evaluate<string[]>('window.__cspViolations'),
  };
}

/** The page at both sizes, whole length, as `<name>-<size>.png`; the viewport is left at desktop size. */
export async function screenshots(page: Page, name: string): Promise<string[]> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const written: string[] = [];
  for (const [size, viewport] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(viewport);
    // Two frames: ResizeObserver callbacks (the charts fit their new width) run before the next paint.
    await page.evaluate('new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))');
    // No sideways scrolling of the page itself at either width (wide tables scroll inside their box).
    const wider = await page.evaluate<string[]>(`[...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > ${viewport.width} + 0.5 && !e.closest('.scroll'))
      .map((e) => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))`);
    if (wider.length > 0) throw new Error(`${name} at ${size} size is wider than ${viewport.width} px: ${wider.slice(0, 5).join('; ')}`);
    const path = join(SCREENSHOT_DIR, `${name}-${size}.png`);
    await page.screenshot({ path, fullPage: true });
    written.push(path);
  }
  await page.setViewportSize(VIEWPORTS.desktop);
  return written;
}

/** Polls `condition` until it holds (the page's own functions cannot be eval'd under its CSP). */
export async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
