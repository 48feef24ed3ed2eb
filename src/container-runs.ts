/**
 * The run directories of detached containers in the store: runs/ctr-<ID> (and runs/ctr-<ID>.copy
 * when the layers had to be copied). A foreground run's directory is named after its flux process
 * and goes with it; a container's holds its writable layer until `flux rm`, as docker keeps a
 * stopped container's. So garbage collection counts the layers such a directory lists as in use
 * whether the container runs or not, and the sweep of dead runs leaves it alone; only removing
 * the container (or `flux container prune`, for one whose state a reboot took) deletes it.
 */
export const CONTAINER_RUN_PREFIX = 'ctr-';

/**
 * The file in every run directory, foreground or detached, that lists the diff_ids of the layers
 * the run uses: written by the sandbox (sandbox/rootfs.ts), read by garbage collection
 * (store/gc.ts) and by `flux rmi` asking which container uses an image (containers-using.ts).
 * The sandbox helper (native/) makes it, empty, by this same name.
 */
export const RUN_LAYERS_FILE = 'layers';

const NAME = /^ctr-([0-9a-f]{64})(\.copy)?$/;

/** The run directory's name under runs/ for the container `id`. */
export function containerRunName(id: string, copy = false): string {
  return `${CONTAINER_RUN_PREFIX}${id}${copy ? '.copy' : ''}`;
}

/** The container ID a name under runs/ belongs to, or undefined for a foreground run's. */
export function containerOfRun(name: string): string | undefined {
  return NAME.exec(name)?.[1];
}
