import { describe, it, expect } from 'vitest';
import { containerOptions, runTarget } from '../../src/library/foreground-run.js';
import { FluxError } from '../../src/errors.js';
import { runOptionsFromCli } from '../../src/flags/run-flags.js';

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

  it('gives run() every flag of `flux run`, as the flags do', () => {
    const lib = containerOptions({
      image: 'x', name: 'web', mounts: ['type=tmpfs,target=/t'], addHost: ['db:10.0.0.1'], dns: ['1.1.1.1'],
      dnsSearch: ['example.test'], dnsOption: ['ndots:2'], tz: 'UTC', unsetenv: ['A'], groupAdd: ['10'],
      ulimit: ['nofile=10'], stopSignal: 'SIGINT', labels: ['a=b'], timeout: 5, userns: 'keep-id',
    });
    const cli = runOptionsFromCli({
      name: 'web', mount: ['type=tmpfs,target=/t'], addHost: ['db:10.0.0.1'], dns: ['1.1.1.1'],
      dnsSearch: ['example.test'], dnsOption: ['ndots:2'], tz: 'UTC', unsetenv: ['A'], groupAdd: ['10'],
      ulimit: ['nofile=10'], stopSignal: 'SIGINT', label: ['a=b'], timeout: '5', userns: 'keep-id', init: true,
    });
    const keys = ['name', 'mount', 'addHost', 'dns', 'dnsSearch', 'dnsOption', 'tz', 'unsetenv', 'groupAdd', 'ulimit', 'stopSignal', 'label', 'timeout', 'userns'] as const;
    for (const k of keys) {
      expect(lib[k], k).toBeDefined();
      expect(lib[k], k).toEqual(cli[k]);
    }
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
