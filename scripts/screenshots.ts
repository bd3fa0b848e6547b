// The README's console screenshots, made reproducibly: a local console on a temporary data
// directory, the end-to-end test's demo data written through the public APIs, and Debian's
// chromium (playwright-core) photographing each view in a state worth showing. Writes
// docs/console-*.png. Run with `npm run screenshots`.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLocalConsole } from '../transports/localConsole.js';
import { CHROMIUM, haveChromium, launchChromium } from '../test/helpers/browser.js';
import { seedConsoleDemo } from '../test/helpers/consoleSeed.js';

/** docs/ at the package root, whether this runs from source or from dist/scripts. */
const DOCS = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../docs/' : '../docs/', import.meta.url));

async function main(): Promise<void> {
  if (!haveChromium()) throw new Error(`no chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
  const dataDir = await mkdtemp(join(tmpdir(), 'allsource-shots-'));
  const server = await startLocalConsole({ dataDir, tenant: 'default', port: 0, logger: false });
  const browser = await launchChromium();
  try {
    await seedConsoleDemo(server.url, { bulkEvents: 20_000 });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, colorScheme: 'light' });
    const shot = async (name: string) => {
      await page.waitForTimeout(400); // let the last paint (and sigma's canvas) settle
      await page.screenshot({ path: join(DOCS, `console-${name}.png`) });
      process.stdout.write(`docs/console-${name}.png\n`);
    };

    await page.goto(`${server.url}/console/`);
    await page.getByTestId('integrity').getByText('Chain intact').waitFor();
    await shot('overview');

    await page.goto(`${server.url}/console/#/events`);
    await page.getByLabel('Entity', { exact: true }).fill('order-');
    await page.getByLabel('prefix').first().check();
    await page.getByLabel('Path').fill('status');
    await page.getByLabel('Value').fill('"paid"');
    await page.getByRole('button', { name: 'Run query' }).click();
    await page.locator('.vlist [role=option]').first().waitFor();
    await page.locator('.vlist [role=option]').nth(4).click();
    await page.mouse.wheel(0, -2000);
    await shot('events');

    await page.goto(`${server.url}/console/#/timeline/user-1`);
    await page.getByTestId('state-at').getByText('Lisbon').waitFor();
    await page.getByLabel('Compare with an earlier instant').check();
    await page.locator('#at').focus();
    await page.keyboard.press('ArrowLeft');
    await page.getByTestId('diff').waitFor();
    await shot('timeline');

    await page.goto(`${server.url}/console/#/graph`);
    const nodes = page.getByRole('list', { name: 'Nodes in the graph' });
    await nodes.getByRole('button', { name: 'Ada person', exact: true }).click();
    await page.getByTestId('neighbors').getByText('Lisbon', { exact: true }).waitFor();
    await shot('graph');

    await page.goto(`${server.url}/console/#/recall`);
    await page.getByLabel('Question').fill('where does Ada live now?');
    await page.getByRole('button', { name: 'Recall' }).click();
    await page.getByTestId('recall-hits').locator('li.hit').first().waitFor();
    await shot('recall');
  } finally {
    await browser.close();
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
