/**
 * The demo page in a real browser (Debian's Chromium through playwright-core) against the Worker bundled as for
 * deployment, in workerd: what the page shows must be what the API answers for the same file.
 * Chromium missing: the suite fails with the command that installs it (scripts/lib/page-browser.ts).
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, startBundledWorker, type BundledWorker } from '../../scripts/lib/page-browser.js';
import { repoRoot, sharedRoot, writeConformanceModels } from '../service/conformance/models.js';
import { CONFORMANCE_MODELS } from '../service/conformance/target.js';
import type { Prediction } from '../../worker/api/common.js';

const workDir = path.join(repoRoot, '.cache', 'page-browser');
const imagePath = path.join(sharedRoot, 'images', 'imagenet-sample', 'n01440764_tench.JPEG');
const imageBytes = readFileSync(imagePath);
const textBytes = Buffer.from('these are notes, not an image\n');

let worker: BundledWorker | undefined;
let browser: Browser | undefined;
let page: Page;

async function api(model: string, body: Uint8Array): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${worker!.url}/v1/classify?model=${model}`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/octet-stream' },
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** The top-5 as rendered: the class index each row carries, its label and its percentage text. */
async function shownPredictions(): Promise<{ index: number; label: string; score: string }[]> {
  const rows = page.locator('#predictions li');
  return Promise.all(
    (await rows.all()).map(async (row) => ({
      index: Number(await row.getAttribute('data-index')),
      label: (await row.locator('.label').textContent()) ?? '',
      score: (await row.locator('.score').textContent()) ?? '',
    })),
  );
}

const asShown = (predictions: Prediction[]) =>
  predictions.map((p) => ({ index: p.index, label: p.label, score: `${(p.score * 100).toFixed(1)}%` }));

async function waitForStatus(text: string): Promise<void> {
  await page.locator('#status', { hasText: text }).waitFor();
}

beforeAll(async () => {
  const modelsDir = path.join(workDir, 'edge');
  await mkdir(modelsDir, { recursive: true });
  writeConformanceModels(modelsDir);
  // Started together; whichever fails, the other is still kept for afterAll to stop.
  const [started, launched] = await Promise.allSettled([
    startBundledWorker({ modelsDir, workDir, bindings: { DEFAULT_MODEL: CONFORMANCE_MODELS.m0 } }),
    launchChromium(),
  ]);
  if (started.status === 'fulfilled') worker = started.value;
  if (launched.status === 'fulfilled') browser = launched.value;
  if (launched.status === 'rejected') throw launched.reason;
  if (started.status === 'rejected') throw started.reason;
  page = await launched.value.newPage();
  await page.goto(`${started.value.url}/`);
  // The picker is filled from /v1/models.
  await page.waitForSelector('#model:not([disabled])');
});

afterAll(async () => {
  await browser?.close();
  await worker?.dispose();
});

describe('the demo page in Chromium, against the Worker in workerd', () => {
  it('fills the model picker from /v1/models, the default selected, and says the weights are synthetic', async () => {
    const models = (await (await fetch(`${worker!.url}/v1/models`)).json()) as { models: { name: string }[] };
    const options = await Promise.all((await page.locator('#model option').all()).map((o) => o.getAttribute('value')));
    expect(options).toEqual(models.models.map((m) => m.name));
    expect(await page.inputValue('#model')).toBe(CONFORMANCE_MODELS.m0);
    expect(await page.textContent('#model-note')).toMatch(/meaningless/);
  });

  it('is keyboard-operable: Tab goes model picker, choose an image, take a photo, API token', async () => {
    await page.focus('body');
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      await page.keyboard.press('Tab');
      // A string: the test is type-checked without the DOM library.
      order.push(await page.evaluate<string>('document.activeElement.id || document.activeElement.tagName'));
    }
    expect(order).toEqual(['model', 'file', 'camera', 'SUMMARY']);
    // Each control's accessible name is its label's text.
    const labelled: [string | RegExp, string][] = [
      ['Model', 'model'],
      ['Choose an image…', 'file'],
      ['Take a photo…', 'camera'],
      [/^Bearer token/, 'token'],
    ];
    for (const [label, id] of labelled)
      expect(await page.getByLabel(label, { exact: true }).getAttribute('id')).toBe(id);
    expect(await page.getAttribute('#status', 'aria-live')).toBe('polite');
  });

  it('an uploaded JPEG shows the top-5 the API returns for the file, the server crop and the timing', async () => {
    const expected = await api(CONFORMANCE_MODELS.m0, imageBytes);
    expect(expected.status).toBe(200);
    await page.setInputFiles('#file', imagePath);
    await waitForStatus(`with ${CONFORMANCE_MODELS.m0}:`);
    expect(await shownPredictions()).toEqual(asShown(expected.json.predictions as Prediction[]));
    // The crop is the server's PNG, decoded by the browser at the model's input size.
    const crop = await page.evaluate(`(() => {
      const image = document.getElementById('crop');
      return { src: image.src.slice(0, 22), width: image.naturalWidth, height: image.naturalHeight, alt: image.alt };
    })()`);
    expect(crop).toEqual({
      src: 'data:image/png;base64,',
      width: 224,
      height: 224,
      alt: expect.stringContaining('n01440764_tench.JPEG'),
    });
    const stages = await page.locator('#timing dt').allTextContents();
    expect(stages).toEqual(expect.arrayContaining(['decode', 'preprocess', 'inference', 'total']));
    expect(await page.isHidden('#error')).toBe(true);
  });

  it('switching the model classifies the same image again and shows that model’s answer', async () => {
    const m0 = await api(CONFORMANCE_MODELS.m0, imageBytes);
    const m1 = await api(CONFORMANCE_MODELS.m1, imageBytes);
    expect(m1.status).toBe(200);
    // Different answers, or the switch could not be seen.
    expect(asShown(m1.json.predictions as Prediction[])).not.toEqual(asShown(m0.json.predictions as Prediction[]));
    await page.selectOption('#model', CONFORMANCE_MODELS.m1);
    await waitForStatus(`with ${CONFORMANCE_MODELS.m1}:`);
    expect(await shownPredictions()).toEqual(asShown(m1.json.predictions as Prediction[]));
    expect(await page.textContent('#result-model')).toContain('efficientvit_m1.fp32');
  });

  it.each(['drop', 'paste'] as const)('an image given by %s is classified like a chosen one', async (how) => {
    const expected = await api(CONFORMANCE_MODELS.m0, imageBytes);
    await page.selectOption('#model', CONFORMANCE_MODELS.m0);
    await waitForStatus(`with ${CONFORMANCE_MODELS.m0}:`);
    await page.evaluate('document.getElementById("predictions").replaceChildren()');
    // The event a browser fires for a drop or a paste, carrying the file (a string: no DOM types in this project).
    const event =
      how === 'drop'
        ? `new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: transfer })`
        : `new ClipboardEvent('paste', { bubbles: true, cancelable: true, clipboardData: transfer })`;
    await page.evaluate(`(() => {
      const bytes = Uint8Array.from(atob(${JSON.stringify(imageBytes.toString('base64'))}), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], 'given-by-${how}.jpg', { type: 'image/jpeg' }));
      document.getElementById('drop').dispatchEvent(${event});
    })()`);
    await waitForStatus(`given-by-${how}.jpg with ${CONFORMANCE_MODELS.m0}:`);
    expect(await shownPredictions()).toEqual(asShown(expected.json.predictions as Prediction[]));
  });

  it('a text file shows the problem’s detail in an alert', async () => {
    const expected = await api(CONFORMANCE_MODELS.m1, textBytes);
    expect(expected.status).toBe(415);
    await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: textBytes });
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.textContent('#error-detail')).toBe(expected.json.detail);
    expect(await page.textContent('#error-title')).toBe(`415 ${expected.json.title}`);
    expect(await page.getAttribute('#error', 'role')).toBe('alert');
    expect(await page.isHidden('#result')).toBe(true);
  });
});
