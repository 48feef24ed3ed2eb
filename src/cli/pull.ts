import type { Command } from 'commander';
import { notePullKind } from './run-command.js';

export function register(program: Command): void {
  program
    .command('pull')
    .description('Fetch an image (registry, oci:DIR, oci-archive:FILE, docker-archive:FILE) into the store and print its digest.')
    .argument('<image>', 'image reference, e.g. alpine:3.20, localhost:5000/app@sha256:…, oci:./layout:tag')
    .option('--platform <os/arch[/variant]>', 'platform to choose from a multi-platform image (default: this host)')
    .option('--pull <policy>', 'always (default): ask the source; missing: only if not in the store; never: store only', 'always')
    .option('-q, --quiet', 'print only the digest')
    .option('--insecure', 'allow plain HTTP and unverified TLS for this registry')
    .action(async (image: string, o: { platform?: string; pull?: string; quiet?: boolean; insecure?: boolean }) => {
      const { pullCommand } = await import('../commands/pull.js');
      const { createPullProgress } = await import('./progress.js');
      // The progress is the command line's own; the command only reports to it.
      // A pull that fetched ran the whole pull path: the learned code cache keeps what it compiled.
      if (await pullCommand(image, o, await createPullProgress({ quiet: o.quiet }))) notePullKind();
    });
}
