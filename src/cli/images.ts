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
    .action(async (images: string[]) => {
      const { rmiCommand } = await import('../commands/rmi.js');
      await rmiCommand(images);
    });
  program
    .command('prune')
    .description('Remove every blob and unpacked layer no image references, and interrupted downloads.')
    .action(async () => {
      const { pruneCommand } = await import('../commands/prune.js');
      await pruneCommand();
    });
}
