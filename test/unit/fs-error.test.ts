/** Every file-system error a pull can meet ends in one sentence naming the path, the errno and the fix. */
import { describe, expect, it } from 'vitest';
import { FluxError } from '../../src/errors.js';
import { fsError, fsErrorText } from '../../src/fs-error.js';
import { reportError } from '../../src/cli/main.js';
import { storeIoError } from '../../store/errors.js';

const sysErr = (code: string, path?: string): NodeJS.ErrnoException =>
  Object.assign(new Error(`${code}: something, rename '${path}'`), { code, ...(path ? { path, syscall: 'rename' } : {}) });

const CODES = ['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EMLINK', 'EFBIG', 'ENAMETOOLONG', 'EIO', 'EXDEV', 'EMFILE', 'ENFILE',
  'ENOMEM', 'ENOTDIR', 'ENOENT', 'EEXIST', 'ENOTEMPTY', 'ELOOP', 'EBUSY', 'ENOTSUP', 'EOPNOTSUPP', 'EUCLEAN'];

describe('fs-error', () => {
  for (const code of CODES) {
    it(`${code}: one sentence with the path and the errno, and a hint`, () => {
      const { message, hint } = fsErrorText(code, '/s/layers/sha256/ab');
      expect(message).toContain('/s/layers/sha256/ab');
      expect(message).toContain(`(${code}).`);
      // One sentence: it ends once, with the errno.
      expect(message.indexOf('. ')).toBe(-1);
      expect(message.endsWith('.')).toBe(true);
      expect(hint.length).toBeGreaterThan(10);
      expect(hint.endsWith('.')).toBe(true);
    });
  }

  it('turns a system error into a FluxError naming its own path, or where flux worked', () => {
    const e = fsError(sysErr('EMLINK', '/s/tmp/unpack-x/d')) as FluxError;
    expect(e).toBeInstanceOf(FluxError);
    expect(e.message).toBe('the directory or file /s/tmp/unpack-x/d has as many links as its file system allows (EMLINK).');
    const nospc = fsError(Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' }), '/s/tmp/unpack-y') as FluxError;
    expect(nospc.code).toBe('NO_SPACE');
    expect(nospc.message).toBe('no space is left on the device holding /s/tmp/unpack-y (ENOSPC).');
  });

  it('leaves FluxErrors, non-errno errors, and errors with no path to name alone', () => {
    const f = new FluxError('X', 'x');
    expect(fsError(f, '/p')).toBe(f);
    const z = Object.assign(new Error('bad'), { code: 'Z_DATA_ERROR' });
    expect(fsError(z, '/p')).toBe(z);
    const noPath = sysErr('EIO');
    expect(fsError(noPath)).toBe(noPath);
  });

  it('the store names any errno, not only the ones it knew', () => {
    const e = storeIoError(sysErr('EMLINK'), '/s', 'writing blob sha256:ab') as FluxError;
    expect(e).toBeInstanceOf(FluxError);
    expect(e.message).toContain('/s');
    expect(e.message).toContain('EMLINK');
  });

  it('the command line never answers a file-system error with "internal error"', () => {
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (written.push(s), true)) as typeof process.stderr.write;
    try {
      expect(reportError(sysErr('EACCES', '/s/layers/sha256/ab'))).toBe(125);
    } finally {
      process.stderr.write = write;
    }
    expect(written.join('')).toMatch(/^flux: permission to \/s\/layers\/sha256\/ab was denied \(EACCES\)\. .+\.\n$/);
    expect(written.join('')).not.toMatch(/internal error/);
  });
});
