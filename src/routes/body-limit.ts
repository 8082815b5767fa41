// The one body limit of every route that reads a body: the predict routes, and the admin API's resolve. A Worker holds
// a body it reads in memory (128 MB an isolate), so none is read past the limit, whoever sends it.
import type { Context, MiddlewareHandler } from 'hono';
import { jsonError } from './errors';

export const MAX_BODY_BYTES = 1024 * 1024;
/** How much more of a streamed body past the limit is read and dropped before its 413; a longer one is cancelled. */
const DRAIN_BYTES = 16 * MAX_BODY_BYTES;

/**
 * The body limit, with what to do about a body over it (`advice`: "split the batch"). A declared Content-Length is
 * checked as Hono's bodyLimit checks it, but without opening the body stream first (a few µs of a 1-row predict in
 * the profile); a body without one (chunked) is counted as it is read.
 */
export function bodyLimit(advice: string): MiddlewareHandler {
  const tooLarge = (c: Context) => jsonError(c, 413, `body: larger than the limit of ${MAX_BODY_BYTES} bytes (1 MiB); ${advice}`);

  /**
   * A body without a declared length (chunked), counted as it is read, as Hono's bodyLimit counts it. Past the limit
   * the rest is read and dropped (up to DRAIN_BYTES) before the 413, where Hono's stops reading: a request body left
   * half-read makes workerd drop the connection, and wrangler dev's proxy, which pools its connections to the runtime,
   * then failed the next POST sent over it, whoever sent it, with a 503 ("Your worker restarted mid-request").
   */
  const countedLimit: MiddlewareHandler = async (c, next) => {
    const body = c.req.raw.body;
    if (!body) return next();
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      size += read.value.length;
      if (size > MAX_BODY_BYTES) {
        for (let dropped = 0; dropped < DRAIN_BYTES; ) {
          const rest = await reader.read();
          if (rest.done) return tooLarge(c);
          dropped += rest.value.length;
        }
        await reader.cancel();
        return tooLarge(c);
      }
      chunks.push(read.value);
    }
    const whole = new Uint8Array(size);
    for (let i = 0, at = 0; i < chunks.length; at += chunks[i]!.length, i++) whole.set(chunks[i]!, at);
    c.req.raw = new Request(c.req.raw, { body: whole });
    return next();
  };

  return (c, next) => {
    const headers = c.req.raw.headers;
    const length = headers.get('content-length');
    if (length === null || headers.has('transfer-encoding')) return countedLimit(c, next);
    return parseInt(length, 10) > MAX_BODY_BYTES ? Promise.resolve(tooLarge(c)) : next();
  };
}
