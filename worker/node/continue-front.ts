/**
 * A minimal HTTP/1.1 front for local workerd that answers `Expect: 100-continue`. workerd's HTTP server never sends
 * `100 Continue`, so curl (which sends the header for bodies over 1 MB) waits its 1 s timeout before uploading;
 * Cloudflare's edge answers it. Node's server answers it as soon as the head arrives. Everything else is relayed
 * as is: the head is forwarded at once (so a `Content-Length` over the limit gets its 413 before any body is sent),
 * bodies stream both ways, and a client that leaves aborts its upstream request (a fresh upstream connection per
 * request: nothing half-read is ever reused).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Hop-by-hop headers (RFC 9110 §7.6.1) and Expect, which this front has answered. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'transfer-encoding',
]);

function forwardHeaders(raw: readonly string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) if (!HOP_BY_HOP.has(raw[i].toLowerCase())) pairs.push([raw[i], raw[i + 1]]);
  return pairs;
}

export interface ContinueFront {
  url: URL;
  close(): Promise<void>;
}

export async function startContinueFront(
  upstream: URL,
  listen: { host: string; port: number },
): Promise<ContinueFront> {
  const server = http.createServer((request, response) => {
    const chunked = request.headers['transfer-encoding'] !== undefined;
    const headers = forwardHeaders(request.rawHeaders);
    if (chunked) headers.push(['Transfer-Encoding', 'chunked']);
    const forwarded = http.request(upstream, {
      method: request.method,
      path: request.url,
      headers: headers.flat(),
      agent: false,
    });
    forwarded.flushHeaders();
    let answered = false;
    forwarded.on('response', (answer) => {
      // Answered before the whole body arrived (a 413): close after the answer, as workerd does, rather than read on.
      if (!request.complete) response.shouldKeepAlive = false;
      response.writeHead(answer.statusCode ?? 502, answer.statusMessage, forwardHeaders(answer.rawHeaders).flat());
      answer.pipe(response);
      answer.on('end', () => {
        answered = true;
      });
      answer.on('error', () => response.destroy());
    });
    forwarded.on('error', () => {
      request.unpipe(forwarded);
      // workerd closed the connection: after a complete answer (it stops reading a refused body) that is normal.
      if (!response.headersSent) response.writeHead(502).end();
      else if (!answered) response.destroy();
    });
    request.pipe(forwarded);
    request.on('error', () => forwarded.destroy());
    // The client left before the answer finished: stop the upstream request too.
    response.on('close', () => {
      if (!response.writableFinished) forwarded.destroy();
    });
  });
  // Node's defaults time requests out; workerd applies its own limits.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return {
    url: new URL(`http://${host}:${port}`),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
