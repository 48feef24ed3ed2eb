/**
 * Every failure a user can cause becomes a FluxError: a stable code, one sentence naming the
 * cause, and a hint naming the fix. The CLI prints `flux: <message> <hint>` and exits with exitCode.
 */
export class FluxError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(code: string, message: string, opts: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'FluxError';
    this.code = code;
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? 125;
  }
}

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
