import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (apt-get install chromium); the browser tests skip themselves without it. */
export const CHROMIUM = '/usr/bin/chromium';

/** Chromium without a sandbox, GPU or background traffic; playwright-core makes (and removes) a fresh profile each launch. */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      ...extraArgs,
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
