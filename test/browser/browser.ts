// Browser test harness: Debian's Chromium through playwright-core (headless, quiet on a closed network), the two viewports, screenshots as test artifacts, page checks every page test wants.
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CARCHAIN_CHROMIUM ?? '/usr/bin/chromium';

/** Without these Chromium keeps trying to reach Google's services, which floods a closed network. */
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run',
];

export const VIEWPORTS = {
  desktop: { viewport: { width: 1280, height: 900 }, isMobile: false, hasTouch: false },
  /** An iPhone 12–15 sized screen. */
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
} as const;
export type ViewportName = keyof typeof VIEWPORTS;

export const SCREENSHOT_DIR = fileURLToPath(new URL('../../test-artifacts/screenshots/', import.meta.url));

/** The tap test object, as far as the harness uses it (keeps this file free of tap's types). */
interface TestLike {
  teardown(fn: () => unknown): void;
}

const underCi = (): boolean => process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

/**
 * The `skip` option for a browser test: a message when Chromium is absent on a developer's machine,
 * false otherwise. Under CI (CI=true) a missing browser is never skipped: the test runs and
 * launchBrowser fails, so a broken install step cannot pass as green.
 */
export function skipWithoutChromium(): string | false {
  if (existsSync(CHROMIUM_PATH) || underCi()) return false;
  return `browser test skipped: ${CHROMIUM_PATH} not found (apt-get install chromium, or set CARCHAIN_CHROMIUM); under CI=true this fails instead`;
}

/** Launches headless Chromium (a fresh temporary profile) and closes it at teardown. */
export async function launchBrowser(t: TestLike): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`browser tests need Chromium: ${CHROMIUM_PATH} not found (apt-get install chromium, or set CARCHAIN_CHROMIUM)`);
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
  t.teardown(() => browser.close());
  return browser;
}

export interface PageWatch {
  page: Page;
  context: BrowserContext;
  /** Requests that left the origin under test: must stay empty. */
  foreignRequests: string[];
  /** Uncaught exceptions and console errors in the page. */
  errors: string[];
}

/** A page at one of the viewports that records what it requests outside `origin` and every script error. */
export async function openPage(browser: Browser, size: ViewportName, origin: string): Promise<PageWatch> {
  const context = await browser.newContext({ ...VIEWPORTS[size], deviceScaleFactor: 1, reducedMotion: 'reduce' });
  const page = await context.newPage();
  const watch: PageWatch = { page, context, foreignRequests: [], errors: [] };
  page.on('request', (req) => {
    const url = req.url();
    if (!url.startsWith(`${origin}/`) && !url.startsWith('data:')) watch.foreignRequests.push(url);
  });
  page.on('pageerror', (err) => watch.errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') watch.errors.push(`console: ${msg.text()}`);
  });
  return watch;
}

/** Saves test-artifacts/screenshots/<name>-<size>.png (full page) and returns its path. */
export async function screenshot(page: Page, name: string, size: ViewportName): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = `${SCREENSHOT_DIR}${name}-${size}.png`;
  await page.screenshot({ path, fullPage: true });
  return path;
}

// In-page code is kept as source text: this project compiles without the DOM library, and these run in the browser.

/** Horizontal overflow of the document: 0 when nothing sticks out sideways (what a phone needs). */
export function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
}

export interface ContrastFailure {
  text: string;
  ratio: number;
  color: string;
  background: string;
}

const CONTRAST_SCRIPT = String.raw`(min) => {
  const parse = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const lin = (v) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; };
  const luminance = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  const backgroundOf = (el) => {
    for (let e = el; e !== null; e = e.parentElement) {
      const bg = getComputedStyle(e).backgroundColor;
      const rgba = parse(bg);
      if (rgba.length === 3 || (rgba.length === 4 && rgba[3] >= 0.99)) return bg;
    }
    return 'rgb(255, 255, 255)';
  };
  const failures = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
    const text = (node.textContent || '').trim();
    const el = node.parentElement;
    if (text === '' || el === null) continue;
    const rect = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (rect.width === 0 || rect.height === 0 || style.visibility === 'hidden' || el.closest('[hidden], noscript, title') !== null) continue;
    const background = backgroundOf(el);
    const [l1, l2] = [luminance(parse(style.color)), luminance(parse(background))].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    if (ratio < min) failures.push({ text: text.slice(0, 40), ratio: Math.round(ratio * 100) / 100, color: style.color, background });
  }
  return failures;
}`;

/**
 * WCAG 2 contrast of every visible text node's colour against the first opaque background behind it
 * (ancestors only: enough for pages without positioned overlaps). Returns those under `minimum`.
 */
export function contrastFailures(page: Page, minimum = 4.5): Promise<ContrastFailure[]> {
  return page.evaluate<ContrastFailure[]>(`(${CONTRAST_SCRIPT})(${minimum})`);
}
