// Screenshot of a workflow in the real n8n editor, with Debian's Chromium (headless).
// Called by scripts/screenshot-n8n.py, which starts n8n and passes:
//   N8N_URL, N8N_EMAIL, N8N_PASSWORD, WORKFLOW_ID, OUTPUT, PLAYWRIGHT_DIR, CHROMIUM
import { createRequire } from 'node:module';

const require = createRequire(`${process.env.PLAYWRIGHT_DIR}/`);
const { chromium } = require('playwright-core');

const base = process.env.N8N_URL;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // Root in a sandbox-less container, and no calls out of this closed machine.
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1800, height: 1000 }, deviceScaleFactor: 1.5 });
  const page = await context.newPage();
  const login = await page.request.post(`${base}/rest/login`, {
    data: { emailOrLdapLoginId: process.env.N8N_EMAIL, email: process.env.N8N_EMAIL, password: process.env.N8N_PASSWORD },
  });
  if (!login.ok()) throw new Error(`login failed: ${login.status()} ${await login.text()}`);
  await page.goto(`${base}/workflow/${process.env.WORKFLOW_ID}`, { waitUntil: 'networkidle' });
  await page.waitForSelector('[data-test-id="canvas-node"]', { timeout: 60000 });
  await page.keyboard.press('Escape');
  const fit = page.locator('[data-test-id="zoom-to-fit"]');
  if (await fit.count()) await fit.first().click();
  else await page.keyboard.press('1');
  await page.waitForTimeout(1500);
  await page.screenshot({ path: process.env.OUTPUT });
  console.log(`wrote ${process.env.OUTPUT}`);
} finally {
  await browser.close();
}
