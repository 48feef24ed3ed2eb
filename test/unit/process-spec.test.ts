import { describe, it, expect } from 'vitest';
import { processSpec, DEFAULT_PATH } from '../../src/container/process-spec.js';

const base = { cmd: [] as string[], env: [] as string[], fileEnv: [] as string[], tty: false };
const user = { home: '/home/app' };

describe('processSpec', () => {
  it('takes argv, working directory and environment from the image when the run names none', () => {
    const p = processSpec({ Entrypoint: ['/ep'], Cmd: ['serve'], WorkingDir: '/srv', Env: ['PATH=/opt/bin:/bin', 'A=1'] }, base, user, 'h1', {});
    expect(p).toEqual({ argv: ['/ep', 'serve'], cwd: '/srv', env: ['PATH=/opt/bin:/bin', 'container=flux', 'A=1', 'HOSTNAME=h1', 'HOME=/home/app'], path: '/opt/bin:/bin', homeFromUser: true });
  });

  it('lets the run override: command, entrypoint, workdir, env files, then -e last', () => {
    const p = processSpec(
      { Entrypoint: ['/ep'], Cmd: ['serve'], Env: ['A=1', 'HOME=/root'] },
      { cmd: ['x'], entrypoint: 'sh', workdir: '/tmp/../work', env: ['A=3', 'FROM_HOST'], fileEnv: ['A=2', 'B=2'], tty: true },
      user,
      'h2',
      { FROM_HOST: 'yes', TERM: 'dumb' },
    );
    expect(p.argv).toEqual(['sh', 'x']);
    expect(p.cwd).toBe('/work');
    expect(p.env).toEqual([`PATH=${DEFAULT_PATH}`, 'container=flux', 'A=3', 'HOME=/root', 'HOSTNAME=h2', 'TERM=xterm', 'B=2', 'FROM_HOST=yes']);
    expect(p.path).toBe(DEFAULT_PATH);
    // The image set HOME: an exec as another user keeps it.
    expect(p.homeFromUser).toBe(false);
  });

  it('says whether HOME is the user\'s own, which an exec as another user replaces', () => {
    expect(processSpec({}, base, user, 'h', {}).homeFromUser).toBe(true);
    expect(processSpec({}, { ...base, env: ['HOME=/x'] }, user, 'h', {}).homeFromUser).toBe(false);
    expect(processSpec({}, { ...base, fileEnv: ['HOME=/x'] }, user, 'h', {}).homeFromUser).toBe(false);
    expect(processSpec({}, { ...base, unset: ['HOME'] }, user, 'h', {}).homeFromUser).toBe(false);
  });

  it('gives no argv when neither names a command, and refuses bad working directories', () => {
    expect(processSpec({}, base, user, 'h', {}).argv).toEqual([]);
    expect(() => processSpec({ WorkingDir: 'rel' }, base, user, 'h', {})).toThrow(/not absolute/);
    expect(() => processSpec({}, { ...base, workdir: '/proc/self/cwd' }, user, 'h', {})).toThrow(/file-descriptor path/);
  });
});
