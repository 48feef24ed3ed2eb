/**
 * flux's own stdout or stderr closing under it (`flux logs NAME | head -1`): the reader went away,
 * which is no error of flux's. Node reports it as an 'error' event (EPIPE) that, unheard, ends
 * flux with a stack trace. Heard here, it only marks the stream closed: whoever writes to it stops,
 * and flux ends as a command writing to a closed pipe does (as a foreground run's command does,
 * which writes to flux's stdout itself): status 141, 128 + SIGPIPE.
 */
import { constants } from 'node:os';

export const CLOSED_PIPE_STATUS = 128 + constants.signals.SIGPIPE;

const closed = new WeakSet<NodeJS.WritableStream>();
const watched = new WeakSet<NodeJS.WritableStream>();

/**
 * Whether `stream` has been closed by its reader; watched from the first call on. One listener per
 * stream for the life of the process, not one per caller: the error of a last write arrives after
 * it (on the next tick), when a caller's own listener could be gone already.
 */
export function readerGone(stream: NodeJS.WritableStream): boolean {
  if (!watched.has(stream)) {
    watched.add(stream);
    stream.on('error', () => closed.add(stream));
  }
  return closed.has(stream);
}

/** Resolves once `stream` can take more (after write() said no), or once its reader is gone. */
export function drained(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}
