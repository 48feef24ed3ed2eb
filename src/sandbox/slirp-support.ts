import { constants, openSync, closeSync } from 'node:fs';
import { FluxError, errnoCode } from '../errors.js';

/**
 * slirp4netns and pasta both create a tap device, which needs /dev/net/tun readable and writable
 * by the user (the container's root is the user on the host). Checked before any namespace exists.
 */
export function checkTun(tool: string): void {
  let fd: number;
  try {
    fd = openSync('/dev/net/tun', constants.O_RDWR);
  } catch (err) {
    throw tunError(tool, err);
  }
  closeSync(fd);
}

export function tunError(tool: string, err: unknown): FluxError {
  const code = errnoCode(err);
  if (code === 'ENOENT' || code === 'ENODEV' || code === 'ENXIO') {
    return new FluxError('NO_TUN', `${tool} needs /dev/net/tun, which this system lacks (no tun support in the kernel or no device node).`, {
      hint: 'Load the tun module (modprobe tun) or create the node (mknod -m 0666 /dev/net/tun c 10 200), or run with --network none.',
      exitCode: 125,
      cause: err,
    });
  }
  return new FluxError('TUN_DENIED', `${tool} cannot open /dev/net/tun (${code ?? (err as Error).message}): the device is not usable by unprivileged users.`, {
    hint: 'Make it so with chmod 0666 /dev/net/tun (udev normally does this), or run with --network none.',
    exitCode: 125,
    cause: err,
  });
}

export function boolOption(options: Map<string, string>, key: string, mode: string): boolean | undefined {
  const v = options.get(key);
  if (v === undefined) return undefined;
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no') return false;
  throw new FluxError('BAD_NETWORK', `network option ${key}=${v} of --network ${mode} is not true or false.`, {
    hint: `Write ${key}=true or ${key}=false.`,
    exitCode: 125,
  });
}

export function unknownOption(mode: string, key: string, known: string[]): FluxError {
  return new FluxError('BAD_NETWORK', `--network ${mode} has no option "${key}".`, {
    hint: `Use one of its options: ${known.join(', ')}.`,
    exitCode: 125,
  });
}

/** The last meaningful line a helper wrote to stderr, to quote in a one-sentence error. */
export function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('Failed to send'));
  return lines[lines.length - 1] ?? '';
}
