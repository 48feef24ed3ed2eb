import { accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FluxError } from '../errors.js';

let cached: string | undefined;

/** The built C helper: native/build/flux-helper next to dist/, or FLUX_HELPER. */
export function helperPath(): string {
  if (cached) return cached;
  // dist/src/native/helper.js → <package>/native/build/flux-helper; the bundle (scripts/bundle.mjs)
  // gives this module the directory of that file, whichever chunk it is in. A plain path: on the
  // run path the URL class would cost its first use, about 1 ms. (import.meta.dirname: Node 20.11.)
  const here = import.meta.dirname ?? dirname(fileURLToPath(import.meta.url));
  const path = process.env.FLUX_HELPER ?? join(here, '../../../native/build/flux-helper');
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new FluxError('HELPER_MISSING', `the sandbox helper ${path} is missing or not executable.`, {
      hint: 'Build it with `npm run build` (needs a C compiler: `apt-get install gcc`).',
    });
  }
  cached = path;
  return path;
}

/** A record the helper sent on its control socket. */
export type HelperRecord =
  | { kind: 'ready' }
  | { kind: 'netready' }
  | { kind: 'netfailed' }
  | { kind: 'started' }
  | { kind: 'rootfs'; value: string }
  | { kind: 'error'; op: string; errno: number; path: string }
  | { kind: 'exec'; errno: number; cmd: string }
  | { kind: 'warning'; text: string }
  | { kind: 'mapfail'; tool: string; text: string }
  | { kind: 'ended'; status: number }
  | { kind: 'done'; status: number };

/**
 * A field as the helper escaped it (ctl_write: \n \t \r \\ \xHH), back to its own text.
 * The escaping only frames the record; the text is escaped again for the terminal where it is
 * printed (printable), never twice.
 */
export function unescapeField(field: string): string {
  return field.replace(/\\(x[0-9a-fA-F]{2}|[ntr\\])/g, (_m, e: string) =>
    e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e === '\\' ? '\\' : String.fromCharCode(parseInt(e.slice(1), 16)),
  );
}

/** Text for the terminal: control characters (a newline, an escape sequence) shown as escapes. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) =>
    c === '\n' ? '\\n' : c === '\t' ? '\\t' : c === '\r' ? '\\r' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

export function parseRecord(line: string): HelperRecord | undefined {
  const tag = line[0];
  const body = line.slice(1);
  // Fields are split on the record's own tabs first: an escaped tab inside one is no separator.
  const fields = (): string[] => body.split('\t').map(unescapeField);
  switch (tag) {
    case 'R':
      return { kind: 'ready' };
    case 'N':
      return { kind: 'netready' };
    case 'S':
      return { kind: 'netfailed' };
    case 'P':
      return { kind: 'started' };
    case 'K':
      return { kind: 'rootfs', value: body };
    case 'E': {
      const [op = '', errno = '0', path = ''] = fields();
      return { kind: 'error', op, errno: Number(errno), path };
    }
    case 'X': {
      const [errno = '0', cmd = ''] = fields();
      return { kind: 'exec', errno: Number(errno), cmd };
    }
    case 'W':
      return { kind: 'warning', text: unescapeField(body.trim()) };
    case 'M': {
      const [tool = '', text = ''] = fields();
      return { kind: 'mapfail', tool, text };
    }
    case 'C':
    case 'D': {
      const status = Number(body);
      if (!/^\d{1,3}$/.test(body) || status > 255) return undefined;
      return { kind: tag === 'C' ? 'ended' : 'done', status };
    }
    default:
      return undefined;
  }
}

const ERRNO_TEXT: Record<number, string> = {
  1: 'Operation not permitted',
  2: 'No such file or directory',
  5: 'Input/output error',
  7: 'Argument list too long',
  12: 'Cannot allocate memory',
  13: 'Permission denied',
  16: 'Device or resource busy',
  17: 'File exists',
  19: 'No such device',
  20: 'Not a directory',
  21: 'Is a directory',
  22: 'Invalid argument',
  28: 'No space left on device',
  30: 'Read-only file system',
  34: 'Numerical result out of range',
  36: 'File name too long',
  38: 'Function not implemented',
  40: 'Too many levels of symbolic links',
  110: 'Connection timed out',
};

export function errnoText(errno: number): string {
  return ERRNO_TEXT[errno] ?? `errno ${errno}`;
}
