/**
 * `npm run classify` (scripts/classify.ts) as a real process against a real server (the Node build on the conformance
 * models, over HTTP): a table per image, the answers as JSON (valid ClassifyResults), and one `error:` line per
 * mistake: a file that does not exist, an unknown model, a server that is not there, a bad option.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as v from 'valibot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClassifyResult } from '../../worker/api/classify.js';
import type { NodeServer } from '../../worker/runtimes/node/server.js';
import { startTestNodeServer } from '../helpers/node-server.js';
import { writeConformanceModels, writeSolidColourImages } from '../service/conformance/models.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tench = path.join(repoRoot, '../shared/images/imagenet-sample/n01440764_tench.JPEG');

function classify(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts/classify.ts'), ...args], {
      cwd: repoRoot,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data) => (stdout += data));
    child.stderr.on('data', (data) => (stderr += data));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('npm run classify', () => {
  let dir: string;
  let server: NodeServer;
  let crimson: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'classify-cli-'));
    writeConformanceModels(path.join(dir, 'models'));
    await writeSolidColourImages((name, bytes) => writeFileSync(path.join(dir, name), bytes));
    crimson = path.join(dir, 'crimson.png');
    server = await startTestNodeServer(path.join(dir, 'models'));
  });

  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('--help: the usage, exit 0', async () => {
    const run = await classify(['--help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('usage: npm run classify -- FILE… [--server URL]');
  });

  it('a table per image: file, model, timings, then one ranked line per class', async () => {
    const run = await classify([tench, crimson, '--server', server.url, '--top-k', '3']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const blocks = run.stdout.trim().split('\n\n');
    expect(blocks).toHaveLength(2);
    for (const [block, file] of [
      [blocks[0], tench],
      [blocks[1], crimson],
    ]) {
      const [head, ...rows] = block.split('\n');
      expect(head).toMatch(
        new RegExp(
          `^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}  tiny_classifier\\.fp32  [\\d.]+ ms in the service, [\\d.]+ ms round trip$`,
        ),
      );
      expect(rows).toHaveLength(3);
      rows.forEach((row, rank) => expect(row).toMatch(new RegExp(`^ +${rank + 1}  [01]\\.\\d{4}  \\S`)));
    }
  });

  it('--json: the answers, each a valid ClassifyResult, with the file and the round trip', async () => {
    const run = await classify([crimson, '--server', server.url, '--model', 'tiny-10', '--top-k', '2', '--json']);
    expect(run.status).toBe(0);
    const answers = JSON.parse(run.stdout) as { file: string; round_trip_ms: number }[];
    expect(answers).toHaveLength(1);
    const { file, round_trip_ms, ...answer } = answers[0];
    expect(file).toBe(crimson);
    expect(round_trip_ms).toBeGreaterThan(0);
    const result = v.parse(ClassifyResult, answer);
    expect(result.model).toBe('tiny_classifier_10.fp32');
    expect(result.predictions).toHaveLength(2);
  });

  it('each failing file is one error line (the others are still classified), exit 1', async () => {
    const missing = path.join(dir, 'nope.jpg');
    const run = await classify([missing, crimson, '--server', server.url]);
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([`error: ${missing}: no such file`]);
    expect(run.stdout).toContain('tiny_classifier.fp32');

    const unknown = await classify([crimson, '--server', server.url, '--model', 'no-such-model']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknown.stderr).toMatch(/^error: .*crimson\.png: 404 unknown-model: /);
  });

  it('a server that is not there: one error line, exit 1', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const url = `http://127.0.0.1:${port}`;
    const run = await classify([crimson, crimson, '--server', url]);
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([`error: cannot reach ${url}: ECONNREFUSED`]);
  });

  it.each([
    [[], 'error: no image files given (--help for usage)'],
    [['a.jpg', '--top-k', 'two'], 'error: --top-k must be a positive integer, got two (--help for usage)'],
    [['a.jpg', '--server', 'ftp://x'], 'error: --server must be an http(s) URL, got ftp://x (--help for usage)'],
  ])('usage mistake %j: one error line, exit 2', async (args, line) => {
    const run = await classify(args);
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe(line);
  });
});
