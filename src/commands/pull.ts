/** `flux pull`: fetch an image into the store and print its digest. */
import { parsePullPolicy, pullImage } from '../image/resolve.js';
import { createPullProgress, humanSize } from '../cli/progress.js';

export interface PullCommandOptions {
  platform?: string;
  /** `flux pull` defaults to `always` (check the source for a newer image), as podman's does. */
  pull?: string;
  quiet?: boolean;
  insecure?: boolean;
}

export async function pullCommand(name: string, o: PullCommandOptions): Promise<void> {
  const policy = parsePullPolicy(o.pull ?? 'always');
  const progress = await createPullProgress({ quiet: o.quiet });
  let result;
  try {
    result = await pullImage(name, { platform: o.platform, pull: policy, insecure: o.insecure, events: progress.events });
  } finally {
    progress.stop();
  }
  if (!o.quiet) {
    const what = result.fromStore ? 'image already in the store; ' : '';
    process.stderr.write(`${what}fetched ${result.fetchedBytes} bytes (${humanSize(result.fetchedBytes)})\n`);
  }
  process.stdout.write(`${result.record.manifestDigest}\n`);
}
