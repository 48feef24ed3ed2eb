import { escapeText } from './escape.js';

/**
 * Every failure a user can cause becomes a FluxError: a stable code, one sentence naming the
 * cause, and a hint naming the fix. The CLI prints `flux: <message> <hint>` and exits with exitCode.
 *
 * The style, the same on the pull side and the run side:
 * - `message`: one sentence naming the cause, starting lower-case (a flag, a path or a name such
 *   as OCI or UDP keeps its own case) and ending with a period, with no "Error:" prefix:
 *   `the registry localhost:5000 denied access to busybox:latest.`
 * - `hint`: the fix, an imperative sentence starting upper-case and ending with a period (a reason
 *   may follow it): `Log in with \`flux login localhost:5000\`.`
 * - Text an image, a registry or a file provides (tags, paths, a server's answer) is quoted as it
 *   came; the constructor escapes its control characters, so neither a terminal nor a program
 *   reading `message` sees them raw (src/escape.ts).
 */
export class FluxError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(code: string, message: string, opts: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(escapeText(message), opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'FluxError';
    this.code = code;
    this.hint = opts.hint === undefined ? undefined : escapeText(opts.hint);
    this.exitCode = opts.exitCode ?? 125;
  }
}

/**
 * The code of the error for a reader that closed the pipe flux was writing into (`flux save
 * IMAGE | head`): an ordinary end, as for any tool writing into a pipe, which the command line
 * ends silently with 141, the status of a tool ended by SIGPIPE (which Node ignores).
 */
export const READER_GONE = 'READER_GONE';

export function isFluxError(err: unknown): err is FluxError {
  return err instanceof FluxError;
}

/** The errno code of a Node system error, if it is one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return undefined;
}
