/**
 * A failing chunked upload on the Node server over real HTTP: a client that resets mid-upload of a chunked body is closed
 * quietly (no "unhandled error … aborted"), and the next request is served normally.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { startTestNodeServer } from '../../helpers/node-server.js';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { NodeServer } from '../../../worker/runtimes/node/server.js';
import { writeConformanceModels } from '../../service/conformance/models.js';

let modelsDir: string;
let server: NodeServer;
beforeAll(async () => {
  modelsDir = mkdtempSync(path.join(os.tmpdir(), 'hostile-client-models-'));
  writeConformanceModels(modelsDir);
  server = await startTestNodeServer(modelsDir);
});
afterAll(async () => {
  await server?.close();
  rmSync(modelsDir, { recursive: true, force: true });
});

it('a client resetting mid-way through a chunked upload is closed quietly, and the next request is served', async () => {
  const errors = vi.spyOn(console, 'error');
  try {
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(server.port, '127.0.0.1', () => {
        socket.write(
          'POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n',
        );
        socket.write(`400\r\n${'a'.repeat(512)}`);
        setTimeout(() => {
          socket.resetAndDestroy();
          resolve();
        }, 100);
      });
      socket.on('error', reject);
    });
    // Give the server time to see the reset and to fail the body read.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    const classify = await fetch(`${server.url}/v1/classify`, {
      method: 'POST',
      body: new Uint8Array(0),
      headers: { 'content-type': 'image/png' },
    });
    expect(classify.status).toBe(400);
    expect(((await classify.json()) as { code: string }).code).toBe('empty-body');
    expect(errors.mock.calls.map((call) => String(call[0]))).not.toContain('unhandled error');
  } finally {
    errors.mockRestore();
  }
});
