/**
 * A real local HTTP server that classify-by-URL tests fetch from, well-behaved and not: images from ../shared,
 * redirect chains, a redirect to a host that is not allowed, servers that stall, oversized bodies, non-images and
 * error statuses. Loopback only, random port.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const sharedRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared');

export interface ImageOrigin {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Bytes the oversized routes send: more than the tests' 4 MiB body limit. */
export const OVERSIZED_BYTES = 5 * 1024 * 1024;

export async function startImageOrigin(): Promise<ImageOrigin> {
  const sockets = new Set<Socket>();
  let port = 0;
  const server: Server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://origin');
    const [, route, ...rest] = url.pathname.split('/');
    const file = rest.join('/');
    try {
      switch (route) {
        case 'image': {
          const bytes = await readFile(path.join(sharedRoot, path.normalize(file)));
          response.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': bytes.byteLength });
          response.end(bytes);
          return;
        }
        case 'redirect': {
          // /redirect/N/<path>: N more hops, then /image/<path>.
          const [count, ...target] = rest;
          const hops = Number(count);
          const next = hops > 1 ? `/redirect/${hops - 1}/${target.join('/')}` : `/image/${target.join('/')}`;
          response.writeHead(302, { location: next });
          response.end();
          return;
        }
        case 'to-localhost':
          response.writeHead(302, { location: `http://localhost:${port}/image/${file}` });
          response.end();
          return;
        case 'stall':
          // Headers never come; the socket is destroyed when the server closes.
          return;
        case 'stall-body':
          response.writeHead(200, { 'content-type': 'image/jpeg' });
          response.write(new Uint8Array([0xff, 0xd8, 0xff]));
          return;
        case 'oversized-declared':
          response.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': OVERSIZED_BYTES });
          response.end(new Uint8Array(OVERSIZED_BYTES));
          return;
        case 'oversized-chunked': {
          response.writeHead(200, { 'content-type': 'image/jpeg' });
          const chunk = new Uint8Array(256 * 1024);
          for (let sent = 0; sent < OVERSIZED_BYTES && !response.destroyed; sent += chunk.byteLength) {
            if (!response.write(chunk)) await new Promise((resolve) => response.once('drain', resolve));
          }
          response.end();
          return;
        }
        case 'text':
          response.writeHead(200, { 'content-type': 'text/plain' });
          response.end('this is not an image\n');
          return;
        case 'status':
          response.writeHead(Number(rest[0]), { 'content-type': 'text/plain' });
          response.end(`status ${rest[0]}\n`);
          return;
        default:
          response.writeHead(404);
          response.end();
      }
    } catch (error) {
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end(String(error));
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
