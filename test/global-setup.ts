import { ensureBuilt, ensureChromium } from '../scripts/test-prereqs.mjs';

/** Runs once before the suite: dist/ up to date, headless Chromium present (or one clear error). */
export default async function setup(): Promise<void> {
  await ensureBuilt();
  ensureChromium();
}
