/**
 * A minimal HTTP/1.1 front for local workerd that answers `Expect: 100-continue`. workerd's HTTP server never sends
 * `100 Continue`, so curl (which sends the header for bodies over 1 MB) waits its 1 s timeout before uploading;
 * Cloudflare's edge answers it. Node's server answers it as soon as the head arrives. Everything else is relayed
 * as is: the head is forwarded at once (so a `Content-Length` over the limit gets its 413 before any body is sent),
 * bodies stream both ways, and a client that leaves aborts its upstream request (a fresh upstream connection per
 * request: nothing half-read is ever reused). Only for `npm start`; Cloudflare answers Expect itself.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError } from '../../worker/service/problems.js';
import { PROBLEM_CONTENT_TYPE } from '../../worker/api/problems.js';

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

/** The upstream died before answering: an `internal-error` problem (worker/service/problems.ts), as the worker would send. */
function upstreamFailed(response: http.ServerResponse): void {
  const problem = new ApiError('internal-error', 'workerd closed the connection without an answer').toProblem();
  response.writeHead(problem.status, { 'content-type': PROBLEM_CONTENT_TYPE }).end(JSON.stringify(problem));
}

/**
 * `maxBodyBytes`: the worker's MAX_BODY_BYTES. At most one byte more than it is forwarded (the worker refuses the
 * request then), and nothing of a body whose Content-Length already exceeds it (refused from the header): workerd
 * closes a connection whose body it left unread with a reset, which can destroy its answer before the front reads
 * it. The rest of such a body is read from the client and dropped, so the client gets the 413 instead of a reset.
 */
export async function startContinueFront(
  upstream: URL,
  listen: { host: string; port: number; maxBodyBytes: number },
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
      response.writeHead(answer.statusCode ?? 500, answer.statusMessage, forwardHeaders(answer.rawHeaders).flat());
      answer.pipe(response);
      answer.on('end', () => {
        answered = true;
      });
      answer.on('error', () => response.destroy());
    });
    let upstreamGone = false;
    forwarded.on('error', () => {
      upstreamGone = true;
      if (!response.headersSent) upstreamFailed(response);
      else if (!answered) response.destroy();
    });

    const declared = Number(request.headers['content-length'] ?? 0);
    let budget = !chunked && declared > listen.maxBodyBytes ? 0 : listen.maxBodyBytes + 1;
    request.on('data', (chunk: Buffer) => {
      if (upstreamGone || budget === 0) return; // read and dropped
      const part = chunk.length <= budget ? chunk : chunk.subarray(0, budget);
      budget -= part.length;
      if (!forwarded.write(part)) {
        request.pause();
        forwarded.once('drain', () => request.resume());
      }
    });
    request.on('end', () => {
      // A capped body is not ended: the worker has refused it, or is about to.
      if (!upstreamGone && budget > 0) forwarded.end();
    });
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
