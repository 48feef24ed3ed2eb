/**
 * A blob's bytes as the caller gets them: never more than its descriptor's size, never silently
 * fewer, from the offset asked for even when the server ignored `Range`.
 */
import { Transform, type Readable } from 'node:stream';
import { RegistryError, errorFromNetwork } from './errors.js';
import type { HttpResponse } from './http.js';

/** A blob stream, with where it starts: always the offset asked for. */
export interface BlobStream extends Readable {
  /** The offset the stream starts at (the caller's `offset`). */
  resumedFrom: number;
  /** Whether the server honoured `Range`; if not, flux skipped the first bytes itself. */
  rangeHonoured: boolean;
}

/** Passes on at most `max` bytes after skipping `skip`; more is an error (a padded or endless blob). */
export function limitBlob(res: HttpResponse, max: number, skip: number, ctx: { what: string; registry: string; host: string }, offset: number, rangeHonoured: boolean): BlobStream {
  let toSkip = skip;
  let passed = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      let c = chunk;
      if (toSkip > 0) {
        if (c.length <= toSkip) {
          toSkip -= c.length;
          cb();
          return;
        }
        c = c.subarray(toSkip);
        toSkip = 0;
      }
      passed += c.length;
      if (passed > max) {
        cb(new RegistryError('BLOB_TOO_LARGE', `the registry ${ctx.registry} sent more bytes for ${ctx.what} than its descriptor's size.`, { hint: 'Nothing was stored; use another registry or mirror, or contact its operator: it is broken or hostile.' }));
        return;
      }
      cb(null, c);
    },
    flush(cb) {
      if (passed < max) {
        cb(new RegistryError('BLOB_TRUNCATED', `the download of ${ctx.what} from ${ctx.registry} ended after ${passed} of ${max} bytes.`, {
          hint: 'Run the pull again to resume it: the connection was cut.',
          retryable: true,
        }));
        return;
      }
      cb();
    },
  });
  const out = Object.assign(limiter, { resumedFrom: offset, rangeHonoured }) as unknown as BlobStream;
  res.body.on('error', (err) => out.destroy(errorFromNetwork(err, { registry: ctx.registry, host: ctx.host })));
  out.on('close', () => { if (!res.body.destroyed && !res.body.readableEnded) res.body.destroy(); });
  res.body.pipe(limiter);
  return out;
}
