/**
 * /docs in a real browser (Debian's Chromium through playwright-core) against the Node server: Swagger UI starts
 * under the page's Content-Security-Policy, renders every operation of /openapi.json, and asks nothing of any other
 * origin (it must work offline). Chromium missing: the suite fails with the command that installs it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium } from '../../scripts/lib/page-browser.js';
import type { NodeServer } from '../../worker/runtimes/node/server.js';
import { writeConformanceModels } from '../service/conformance/models.js';
import { startTestNodeServer } from '../helpers/node-server.js';

let server: NodeServer | undefined;
let browser: Browser | undefined;
let modelsDir: string;

beforeAll(async () => {
  modelsDir = mkdtempSync(path.join(os.tmpdir(), 'docs-browser-'));
  writeConformanceModels(modelsDir);
  server = await startTestNodeServer(modelsDir);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (modelsDir) rmSync(modelsDir, { recursive: true, force: true });
});

it('renders every operation of the document, with no CSP violation and no other origin asked', async () => {
  const page = await browser!.newPage();
  const problems: string[] = [];
  const elsewhere: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('request', (request) => {
    if (!request.url().startsWith(server!.url) && !request.url().startsWith('data:')) elsewhere.push(request.url());
  });
  const response = await page.goto(`${server!.url}/docs`);
  expect(response?.status()).toBe(200);
  await page.locator('.opblock-summary-path', { hasText: '/v1/classify' }).waitFor();
  const paths = await page.locator('.opblock-summary-path').allTextContents();
  const document = (await (await fetch(`${server!.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
  expect(Object.keys(document.paths)).toContain('/v1/classify');
  expect(paths.map((text) => text.trim()).sort()).toEqual(Object.keys(document.paths).sort());
  await expect(page.locator('.title').first().textContent()).resolves.toContain('EfficientViT at the edge');
  expect(problems).toEqual([]);
  expect(elsewhere).toEqual([]);
});
