import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('images')
    .description('List the images in the store.')
    .option('--json', 'print a JSON array (stable fields) instead of a table')
    .action(async (o: { json?: boolean }) => {
      const { imagesCommand } = await import('../commands/images.js');
      await imagesCommand(o);
    });
  program
    .command('inspect')
    .description('Print a detached container\'s state and events, or the record, manifest and config of an image, as a JSON array.')
    .argument('<name...>', 'container name or ID, or image name, ID or digest')
    .action(async (images: string[]) => {
      const { inspectCommand } = await import('../commands/inspect.js');
      await inspectCommand(images);
    });
  program
    .command('rmi')
    .description('Remove images from the store, with the blobs and layers no other image uses.')
    .argument('<image...>', 'image name, ID or digest')
    .option('-f, --force', 'remove an image a container was made from (its layers stay for the container)')
    .action(async (images: string[], opts: { force?: boolean }) => {
      const { rmiCommand } = await import('../commands/rmi.js');
      await rmiCommand(images, opts.force === true);
    });
  program
    .command('tag')
    .description('Give a stored image another name.')
    .argument('<source>', 'image name, ID or digest')
    .argument('<target>', 'new name, NAME[:TAG]')
    .action(async (source: string, target: string) => {
      const { tagCommand } = await import('../commands/tag.js');
      await tagCommand(source, target);
    });
  program
    .command('save')
    .description('Write images into a docker or OCI archive, for `flux load`, `podman load` or `docker load`.')
    .argument('<image...>', 'image name, ID or digest')
    .option('-o, --output <file>', 'the archive to write (default: standard output)')
    .option('--format <format>', 'docker-archive or oci-archive', 'docker-archive')
    .option('-q, --quiet', 'print nothing on success')
    .action(async (images: string[], o: { output?: string; format?: string; quiet?: boolean }) => {
      const { saveCommand } = await import('../commands/save.js');
      await saveCommand(images, o);
    });
  program
    .command('load')
    .description('Store the images of a docker or OCI archive (from `flux save`, `podman save`, `docker save`).')
    .option('-i, --input <file>', 'the archive to read (default: standard input)')
    .action(async (o: { input?: string }) => {
      const { loadCommand } = await import('../commands/load.js');
      await loadCommand(o);
    });
  program
    .command('push')
    .description('Send a stored image to a registry; blobs the registry has are not sent again.')
    .argument('<image>', 'image name, ID or digest')
    .argument('[destination]', 'where to push, REGISTRY/NAME[:TAG] (default: the image\'s own name)')
    .option('--insecure', 'allow plain HTTP and unverified TLS for a registry not on loopback')
    .option('-q, --quiet', 'print only the digest')
    .action(async (image: string, destination: string | undefined, o: { insecure?: boolean; quiet?: boolean }) => {
      const { pushCommand } = await import('../commands/push.js');
      await pushCommand(image, destination, o);
    });
  program
    .command('prune')
    .description('Remove every blob and unpacked layer no image references, and interrupted downloads.')
    .action(async () => {
      const { pruneCommand } = await import('../commands/prune.js');
      await pruneCommand();
    });
}
