/** Debian's Chromium (playwright-core) with a fake microphone that plays a WAV file in a loop. */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * `fakeMicWav`: 16 kHz mono 16-bit PCM; Chromium's fake capture device reads it as is and loops it.
 * `fakeCamera`: a .y4m (or .mjpeg) file the fake camera plays in a loop at its own frame rate.
 */
export async function launchChromium(fakeMicWav: string, fakeCamera?: string): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`Chromium not found at ${CHROMIUM_PATH} (apt-get install -y chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${fakeMicWav}`,
      ...(fakeCamera ? [`--use-file-for-fake-video-capture=${fakeCamera}`] : []),
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/** A page whose console lines and uncaught errors go to `log` (printed when a test fails). */
export async function newLoggedPage(browser: Browser, viewport: { width: number; height: number }, log: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport });
  page.on('console', (msg) => log.push(`[${msg.type()}] ${msg.text()}`));
  page.on('pageerror', (error) => log.push(`[pageerror] ${error.message}`));
  return page;
}
