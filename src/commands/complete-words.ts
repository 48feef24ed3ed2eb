/**
 * `flux __complete images|containers|networks`: the words a shell offers for an image, a container
 * or a user network, one a line. Silent on any failure (no store yet): a completion must never
 * print an error into the user's line.
 */
import { Flux } from '../library/flux.js';

/** The words, each once; one holding a blank or a control character could not be one shell word anyway. */
async function writeWords(list: () => Promise<string[]>): Promise<void> {
  let words: string[];
  try {
    words = await list();
  } catch {
    return;
  }
  process.stdout.write([...new Set(words)].filter((w) => w !== '' && !/[\s\x00-\x1f\x7f]/.test(w)).map((w) => `${w}\n`).join(''));
}

/** The stored image references; the short docker form too (`alpine:latest` beside `docker.io/library/alpine:latest`). */
export function completeImages(): Promise<void> {
  return writeWords(async () =>
    (await new Flux().images()).flatMap(({ reference: r }) => {
      if (r.startsWith('docker.io/library/')) return [r, r.slice('docker.io/library/'.length)];
      if (r.startsWith('docker.io/')) return [r, r.slice('docker.io/'.length)];
      return [r];
    }),
  );
}

/** Each container's name and short ID. */
export function completeContainers(): Promise<void> {
  return writeWords(async () => (await new Flux().containers({ all: true })).flatMap((c) => [c.name, c.id.slice(0, 12)]));
}

/** The names of the user's networks (flux network create). */
export function completeNetworks(): Promise<void> {
  return writeWords(async () => (await new Flux().networks()).map((n) => n.name));
}
