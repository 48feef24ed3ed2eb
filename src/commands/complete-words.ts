/**
 * `flux __complete images|containers|networks`: the words a shell offers for an image, a container
 * or a user network. `images`: the stored image references, one a line, for shell completion; the
 * short docker form too (`alpine:latest` beside `docker.io/library/alpine:latest`). Silent on
 * any failure (no store yet): a completion must never print an error into the user's line.
 */
import { Flux } from '../library/flux.js';

export async function completeImages(): Promise<void> {
  let refs: string[];
  try {
    refs = (await new Flux().images()).map((i) => i.reference);
  } catch {
    return;
  }
  const out = new Set<string>();
  for (const r of refs) {
    out.add(r);
    if (r.startsWith('docker.io/library/')) out.add(r.slice('docker.io/library/'.length));
    else if (r.startsWith('docker.io/')) out.add(r.slice('docker.io/'.length));
  }
  // Names only: a reference holding a blank or a newline could not be one shell word anyway.
  process.stdout.write([...out].filter((r) => !/[\s\x00-\x1f\x7f]/.test(r)).map((r) => `${r}\n`).join(''));
}

/** `flux __complete containers`: each container's name and short ID, one a line; silent on failure. */
export async function completeContainers(): Promise<void> {
  let words: string[];
  try {
    words = (await new Flux().containers({ all: true })).flatMap((c) => [c.name, c.id.slice(0, 12)]);
  } catch {
    return;
  }
  process.stdout.write(words.filter((w) => w !== '' && !/[\s\x00-\x1f\x7f]/.test(w)).map((w) => `${w}\n`).join(''));
}

/** `flux __complete networks`: the names of the user's networks (flux network create), one a line; silent on failure. */
export async function completeNetworks(): Promise<void> {
  let names: string[];
  try {
    names = (await new Flux().networks()).map((n) => n.name);
  } catch {
    return;
  }
  process.stdout.write(names.filter((n) => n !== '' && !/[\s\x00-\x1f\x7f]/.test(n)).map((n) => `${n}\n`).join(''));
}
