/**
 * A minimal HTTP/1.1 front for local workerd that answers `Expect: 100-continue` and never loses an early answer.
 * workerd's HTTP server never sends `100 Continue`, so curl (which sends the header for bodies over 1 MB) waits its
 * 1 s timeout before uploading; Cloudflare's edge answers it. Node's server answers it as soon as the head arrives.
 *
 * workerd answers some requests before reading their body (unknown model, bad parameter, token, a Content-Length
 * over the limit) and then resets the connection whose body it left unread. A front that streams the body races that
 * reset: a write to the reset socket destroys it, with the answer still unread in its receive buffer (a 500 where
 * workerd had answered 404). So the body is read from the client first (at most MAX_BODY_BYTES + 1 bytes: the worker
 * refuses anything longer) and sent upstream in one write with its head; after that the front only reads, and
 * libuv reads a socket before it writes to it, so the answer is parsed before the reset is seen. A reset after the
 * answer is not a failure; the answer stream itself tells whether it was cut short. A fresh upstream connection per
 * request: nothing half-read is ever reused. Only for `npm start`; Cloudflare answers Expect itself.
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
 * request then), and nothing of a body whose Content-Length already exceeds it (refused from the header, before the
 * client has sent it). The rest of such a body is read from the client and dropped, so the client gets the 413
 * instead of a reset.
 */
export async function startContinueFront(
  upstream: URL,
  listen: { host: string; port: number; maxBodyBytes: number },
): Promise<ContinueFront> {
  const server = http.createServer((request, response) => {
    const chunked = request.headers['transfer-encoding'] !== undefined;
    const headers = forwardHeaders(request.rawHeaders);
    if (chunked) headers.push(['Transfer-Encoding', 'chunked']);
    let forwarded: http.ClientRequest | undefined;
    let clientGone = false;

    /** Sends the head and `body` upstream at once; `complete`: the body ends there (else the worker refuses it). */
    const forward = (body: Buffer, complete: boolean) => {
      if (clientGone) return;
      const upstreamRequest = http.request(upstream, {
        method: request.method,
        path: request.url,
        headers: headers.flat(),
        agent: false,
      });
      forwarded = upstreamRequest;
      let answered = false;
      upstreamRequest.on('response', (answer) => {
        answered = true;
        response.writeHead(answer.statusCode ?? 500, answer.statusMessage, forwardHeaders(answer.rawHeaders).flat());
        answer.pipe(response);
        // Cut short (the connection closed before the whole answer): the client must see it cut short too.
        answer.on('error', () => response.destroy());
      });
      upstreamRequest.on('error', () => {
        // After the answer's head, the reset that follows an early answer is expected (see above).
        if (answered) return;
        if (!response.headersSent) upstreamFailed(response);
        else response.destroy();
      });
      if (body.length > 0) upstreamRequest.write(body);
      if (complete) upstreamRequest.end();
      else upstreamRequest.flushHeaders();
    };

    const declared = Number(request.headers['content-length'] ?? 0);
    const refusedFromHeader = !chunked && declared > listen.maxBodyBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    let sent = false;
    if (refusedFromHeader) {
      sent = true;
      forward(Buffer.alloc(0), false);
    }
    request.on('data', (chunk: Buffer) => {
      if (sent) return; // read and dropped
      chunks.push(chunk);
      size += chunk.length;
      if (size > listen.maxBodyBytes) {
        sent = true;
        forward(Buffer.concat(chunks).subarray(0, listen.maxBodyBytes + 1), false);
        chunks.length = 0;
      }
    });
    request.on('end', () => {
      if (sent) return;
      sent = true;
      forward(Buffer.concat(chunks), true);
      chunks.length = 0;
    });
    request.on('error', () => forwarded?.destroy());
    // The client left before the answer finished: stop the upstream request too (or never start it).
    response.on('close', () => {
      if (response.writableFinished) return;
      clientGone = true;
      forwarded?.destroy();
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
