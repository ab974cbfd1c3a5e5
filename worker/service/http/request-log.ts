/**
 * One record per request, for hosts that log them (the Node build writes each as a JSON line): the middleware times
 * the request, and routes add what only they know (the model, the number of images) with noteRequest.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { Clock } from './timing.js';

export interface RequestRecord {
  time: string;
  method: string;
  path: string;
  model: string | null;
  status: number;
  ms: number;
  /** Images in the request: 1 for a raw body, the batch size for multipart; null where none were read. */
  batch: number | null;
}

export type RequestLog = (record: RequestRecord, request: Request) => void;

declare module 'hono' {
  interface ContextVariableMap {
    requestNote: { model?: string; batch?: number };
  }
}

export function noteRequest(c: Context, note: { model?: string; batch?: number }): void {
  c.set('requestNote', { ...c.get('requestNote'), ...note });
}

export function requestLogger(log: RequestLog, clock: Clock): MiddlewareHandler {
  return async (c, next) => {
    const started = clock();
    const time = new Date().toISOString();
    // Before the body limit may replace it: callers recognise their own requests by identity.
    const raw = c.req.raw;
    try {
      await next();
    } finally {
      const note = c.get('requestNote') ?? {};
      log(
        {
          time,
          method: c.req.method,
          path: c.req.path,
          model: note.model ?? null,
          // An error escaping next() is answered by the app's error handler as a 500.
          status: c.res?.status ?? 500,
          ms: Math.round((clock() - started) * 100) / 100,
          batch: note.batch ?? null,
        },
        raw,
      );
    }
  };
}
