/**
 * `flux __monitor ROOT ID`: flux re-executed as a detached container's monitor. Started through
 * bin/flux.js, it loads the bundle with its code cache (the run's code is the foreground run's),
 * about 0.1 s sooner than the unbundled modules.
 */
export async function monitorCommand(root: string, id: string): Promise<void> {
  const { runMonitor } = await import('../library/monitor-entry.js');
  await runMonitor(root, id);
}
