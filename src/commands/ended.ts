/**
 * `flux __ended ROOT ID`: what is left when a detached container has ended (--rm, a user network
 * to leave), run by its monitor once, through bin/flux.js and the bundle's code cache.
 */
export async function endedCommand(root: string, id: string): Promise<void> {
  const { runEnded } = await import('../library/ended-entry.js');
  await runEnded(root, id);
}
