/** The image list of a matrix: positional `A,B`, repeated `--image`, and `--images-file`. */
import { readFileSync } from 'node:fs';
import { FluxError } from '../errors.js';
import { parseReference } from '../image/reference.js';

/** Transports that name images on disk; their text is already the identity. */
const TRANSPORT_RE = /^(oci|oci-archive|docker-archive):/;

export interface MatrixImage {
  /** As the user wrote it: what `flux run` is given and what the summary shows. */
  readonly ref: string;
  /** Normalised name (`docker.io/library/alpine:latest`): duplicates and the shard split use it. */
  readonly key: string;
}

export function imageKey(ref: string): string {
  if (TRANSPORT_RE.test(ref)) return ref;
  return parseReference(ref).toString();
}

/** Lines of an images file: one image per line (commas allowed too); blank lines and `#` comments ignored. */
export function parseImagesFile(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line !== '') out.push(...splitList(line));
  }
  return out;
}

export function splitList(s: string): string[] {
  return s.split(',').map((x) => x.trim()).filter((x) => x !== '');
}

/** Every image once, in the order first named; an invalid reference fails before anything runs. */
export function collectImages(names: string[]): MatrixImage[] {
  const seen = new Set<string>();
  const out: MatrixImage[] = [];
  for (const ref of names) {
    const key = imageKey(ref);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ ref, key });
  }
  if (out.length === 0) {
    throw new FluxError('MATRIX_NO_IMAGES', 'no images were given to the matrix.', {
      hint: 'Name them as IMAGE[,IMAGE…], with --image I, or list them in --images-file FILE.',
      exitCode: 125,
    });
  }
  return out;
}

/** The images of `--images-file PATH` (`-` for standard input). */
export function readImagesFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new FluxError('MATRIX_IMAGES_FILE', `cannot read the images file ${path}: ${(err as Error).message}.`, {
      hint: 'Give --images-file a readable file with one image per line.',
      exitCode: 125,
    });
  }
  return parseImagesFile(text);
}
