import { describe, it, expect } from 'vitest';
import { containerOptions, runTarget } from '../../src/library/foreground-run.js';
import { FluxError } from '../../src/errors.js';

describe('the library\'s run options', () => {
  it('become the same options `flux run` flags give, with the handle\'s store and runtime dir', () => {
    const o = containerOptions(
      {
        image: 'busybox',
        env: { A: '1', B: 'two words' },
        volumes: ['/tmp:/t:ro'],
        ports: ['8080:80'],
        capDrop: ['ALL'],
        readOnly: true,
        stdin: 'inherit',
        limits: { memory: '64m', cpus: 1.5, pids: 100 },
        pull: 'never',
      },
      { store: '/s', runtimeDir: '/r' },
    );
    expect(o).toMatchObject({
      env: ['A=1', 'B=two words'],
      volume: ['/tmp:/t:ro'],
      publish: ['8080:80'],
      capDrop: ['ALL'],
      readOnly: true,
      interactive: true,
      tty: false,
      pull: 'never',
      limits: { memory: '64m', cpus: '1.5', pidsLimit: '100' },
      store: '/s',
      runtimeDir: '/r',
      quiet: true,
    });
    expect(containerOptions({ image: 'x' }).pull).toBe('missing');
  });

  it('refuses what is not an option, as a FluxError with a code', () => {
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return err instanceof FluxError ? err.code : 'other';
      }
      return 'none';
    };
    expect(codeOf(() => containerOptions({ image: 'x', pull: 'sometimes' as 'never' }))).toBe('BAD_OPTION');
    expect(codeOf(() => containerOptions({ image: 'x', volumes: '/a:/b' as unknown as string[] }))).toBe('BAD_OPTION');
    expect(codeOf(() => runTarget({}))).toBe('BAD_OPTION');
    expect(codeOf(() => runTarget({ image: 'x', rootfs: '/r' }))).toBe('BAD_OPTION');
    expect(runTarget({ rootfs: '/r' })).toEqual({ rootfs: '/r' });
    expect(runTarget({ image: 'x' })).toBe('x');
  });
});
