/** `flux pull`: fetch an image into the store and print its digest. */
import { humanSize } from '../format.js';
import { parsePullPolicy, pullReport } from '../library/pull-images.js';
import type { PullEvents } from '../library/api-types.js';

export interface PullCommandOptions {
  platform?: string;
  /** `flux pull` defaults to `always` (check the source for a newer image), as podman's does. */
  pull?: string;
  quiet?: boolean;
  insecure?: boolean;
}

/** How the pull shows its progress (the command line's bars or lines); stopped once, whatever happened. */
export interface PullReporter {
  events: PullEvents;
  stop(): void;
}

/** Whether the image was fetched (false: it was in the store already). */
export async function pullCommand(name: string, o: PullCommandOptions, progress: PullReporter): Promise<boolean> {
  let result;
  try {
    const policy = parsePullPolicy(o.pull ?? 'always', undefined, 'always');
    result = await pullReport(name, { ...(o.platform !== undefined ? { platform: o.platform } : {}), policy, ...(o.insecure ? { insecure: true } : {}), onProgress: progress.events }, undefined);
  } finally {
    progress.stop();
  }
  if (!o.quiet) {
    const what = result.fromStore ? 'image already in the store; ' : '';
    process.stderr.write(`${what}fetched ${result.fetchedBytes} bytes (${humanSize(result.fetchedBytes)})\n`);
  }
  process.stdout.write(`${result.image.digest}\n`);
  return !result.fromStore;
}
