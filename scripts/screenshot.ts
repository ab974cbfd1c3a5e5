/**
 * `npm run screenshot [-- --models DIR] [--image FILE] [--model NAME] [--out docs/demo.png]`: the demo page in
 * Debian's Chromium, against the Worker bundled as for deployment in workerd, after classifying one image; written
 * as the README's picture. Models: the edge build folder (`npm start` builds it); the page is rebuilt into it first.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { targetDir } from '../models/toolchain/targets.js';
import { printCliError } from './lib/build-cli.js';
import { buildPage } from './lib/page.js';
import { launchChromium, startBundledWorker } from './lib/page-browser.js';

const USAGE = `usage: npm run screenshot [-- --models DIR] [--image FILE] [--model NAME] [--out FILE]

  --models DIR   the folder the Worker serves (default: models/build/edge)
  --image FILE   the image to classify (default: ../shared/images/imagenet-sample/n01843383_toucan.JPEG)
  --model NAME   the model to pick (default: the service's default)
  --out FILE     where the PNG goes (default: docs/demo.png)`;

const repoRoot = path.resolve(import.meta.dirname, '..');

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: targetDir('edge') },
      image: {
        type: 'string',
        default: path.resolve(repoRoot, '../shared/images/imagenet-sample/n01843383_toucan.JPEG'),
      },
      model: { type: 'string' },
      out: { type: 'string', default: path.join(repoRoot, 'docs', 'demo.png') },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  await buildPage([values.models]);
  const workDir = path.join(repoRoot, '.cache', 'screenshot');
  await mkdir(workDir, { recursive: true });
  const worker = await startBundledWorker({ modelsDir: values.models, workDir });
  const browser = await launchChromium().catch(async (error: unknown) => {
    await worker.dispose();
    throw error;
  });
  try {
    const page = await browser.newPage({ viewport: { width: 960, height: 720 }, colorScheme: 'light' });
    await page.goto(`${worker.url}/`);
    await page.waitForSelector('#model:not([disabled])');
    if (values.model) await page.selectOption('#model', values.model);
    // Twice: the picture shows a warm request's stages, not the first one's model load.
    for (let i = 0; i < 2; i++) {
      await page.setInputFiles('#file', values.image);
      await page.waitForSelector('#result:not([hidden]):not([aria-busy])');
    }
    await page.screenshot({ path: values.out, fullPage: true });
    console.error(`wrote ${values.out}`);
    return 0;
  } finally {
    await browser.close();
    await worker.dispose();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      console.error(`error: ${error.message}\n\n${USAGE}`);
      process.exit(2);
    }
    process.exit(printCliError(error));
  },
);
