/**
 * `--entrypoint` as docker and podman take it: a plain command, '' for none, or podman's JSON
 * array (`'["/bin/echo","x"]'`) giving the whole entrypoint argv.
 */
import { FluxError } from '../errors.js';

export function entrypointArgv(raw: string): string[] {
  if (raw === '') return [];
  if (!raw.trimStart().startsWith('[')) return [raw];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.some((x) => typeof x !== 'string')) {
    throw new FluxError('BAD_ENTRYPOINT', `--entrypoint ${raw} starts like a JSON array but is not one of strings.`, {
      hint: 'Write --entrypoint \'["/bin/echo","x"]\' (double quotes inside) or a plain command.',
      exitCode: 125,
    });
  }
  return parsed as string[];
}
