/**
 * flux as a library: `new Flux(options)` is a handle on one store (and runtime directory), with
 * the operations of the command line as methods that return records instead of printing them.
 * Nothing here prints, exits or installs a signal handler; failures are FluxError rejections.
 * Each method loads the modules it needs when called, so importing flux stays cheap.
 */
import { FluxError, isFluxError } from '../errors.js';
import type { FluxOptions, ImageInfo, PruneResult, PullOptions, RemoveResult, RunOptions, RunResult } from './api-types.js';
import type { Readable, Writable } from 'node:stream';
import type { SaveOptions } from './save-images.js';
import type { PushImageOptions, PushResult } from './push-image.js';
import type { FluxInfo } from './machine-info.js';
import type { MatrixOptions, MatrixRecord } from './matrix-run.js';
import type { Container } from './container.js';
import type { ContainerEvent } from '../container/container-events.js';
import type { NetworkInfo } from '../container/user-networks.js';
import type { BenchOptions, BenchReport } from './warm-bench.js';

export class Flux {
  /** The options this handle was made with (store, runtimeDir); undefined fields take the CLI's defaults. */
  readonly options: Readonly<FluxOptions>;

  constructor(options: FluxOptions = {}) {
    if (options.store !== undefined && (typeof options.store !== 'string' || options.store === '')) {
      throw new FluxError('BAD_OPTION', 'the store option is not a directory path.', { hint: 'Give new Flux({ store }) a path, or leave it out for the default.' });
    }
    this.options = { ...options };
  }

  /** Fetches an image into the store (policy 'always' by default, as `flux pull`) and returns its record. */
  async pull(ref: string, o: PullOptions = {}): Promise<ImageInfo> {
    const { pullReport } = await import('./pull-images.js');
    return (await pullReport(ref, o, this.options.store)).image;
  }

  /** Every stored image, as `flux images --json`. */
  async images(): Promise<ImageInfo[]> {
    const { listImages, toJson } = await import('./image-records.js');
    return (await listImages(this.options.store)).map(toJson);
  }

  /** Record, manifest and config of every image `ref` names (a reference, an ID or a digest), as `flux inspect`. */
  async inspect(ref: string): Promise<Record<string, unknown>[]> {
    const { inspectImages } = await import('./image-records.js');
    return inspectImages([ref], this.options.store);
  }

  /**
   * What `flux inspect NAME` shows: a detached container's state and events when NAME is one
   * (containers first, as podman), else the records of the images NAME names.
   */
  async inspectAny(ref: string): Promise<Record<string, unknown>[]> {
    try {
      return [await (await this.container(ref)).inspect()];
    } catch (err) {
      // No such container, or no runtime directory to hold any: the name may be an image's.
      if (!(isFluxError(err) && (err.code === 'NO_CONTAINER' || err.code === 'RUNTIME_DIR'))) throw err;
    }
    try {
      return await this.inspect(ref);
    } catch (err) {
      if (!(isFluxError(err) && err.code === 'IMAGE_NOT_FOUND')) throw err;
      throw new FluxError('NO_SUCH_OBJECT', `there is no container or image named "${ref}".`, { hint: '`flux ps -a` lists the containers and `flux images` the images.' });
    }
  }

  /** Removes images (references, IDs or digests) and what no other image uses, as `flux rmi`. */
  async removeImage(refs: string | string[], o: { onWait?: () => void; force?: boolean } = {}): Promise<RemoveResult> {
    const { removeImages } = await import('./remove-images.js');
    const runtimeDir = this.options.runtimeDir;
    return removeImages(Array.isArray(refs) ? refs : [refs], this.options.store, o.onWait ?? (() => undefined), {
      force: o.force ?? false,
      ...(runtimeDir !== undefined ? { runtimeDir } : {}),
    });
  }

  /** Removes every blob and unpacked layer no image uses, and the run dirs of killed runs, as `flux prune`. */
  async prune(o: { onWait?: () => void } = {}): Promise<PruneResult> {
    const { pruneStore } = await import('./remove-images.js');
    return pruneStore(this.options.store, o.onWait ?? (() => undefined));
  }

  /** Gives the stored image `source` the name `target` (NAME[:TAG]), as `flux tag`; returns the new record. */
  async tag(source: string, target: string): Promise<ImageInfo> {
    const { tagImage } = await import('./tag-image.js');
    return tagImage(source, target, this.options.store);
  }

  /**
   * Writes stored images into one archive (a file path, or a stream), as `flux save`:
   * docker-archive by default, or oci-archive. Written to a file, it listens for SIGINT, SIGTERM
   * and SIGHUP meanwhile, and removes its temporary file on one; when the program has no handler
   * of its own for that signal, the process then ends by it, else the call fails.
   */
  async save(refs: string | string[], output: string | Writable, o: SaveOptions = {}): Promise<{ images: number; bytes: number }> {
    const { saveImages } = await import('./save-images.js');
    return saveImages(Array.isArray(refs) ? refs : [refs], output, o, this.options.store);
  }

  /** Stores every image of a docker or OCI archive (a file path, or a stream) under its names, as `flux load`. */
  async load(input: string | Readable): Promise<ImageInfo[]> {
    const [{ loadImages }, { storeIoError }, { defaultStoreRoot }] = await Promise.all([import('./load-images.js'), import('../../store/errors.js'), import('../../store/location.js')]);
    try {
      return await loadImages(input, this.options.store);
    } catch (err) {
      // Spooling a stream into the store's tmp/ meets a full disk with no path in its error.
      throw storeIoError(err, this.options.store ?? defaultStoreRoot(), 'loading images');
    }
  }

  /**
   * Sends a stored image to a registry (to `destination`, else to its own name), as `flux push`:
   * blobs the registry has are not sent again; the manifest keeps its digest.
   */
  async push(ref: string, destination?: string, o: PushImageOptions = {}): Promise<PushResult & { reference: string }> {
    const { pushImage } = await import('./push-image.js');
    return pushImage(ref, destination, o, this.options.store);
  }

  /**
   * What flux found on this machine and will use (kernel, user namespaces, id ranges, overlay,
   * network helpers, cgroups, store), with a one-line fix for each missing piece, as `flux info`.
   */
  async info(): Promise<FluxInfo> {
    const { machineInfo } = await import('./machine-info.js');
    return machineInfo(this.options);
  }

  /**
   * A throw-away container in the foreground; resolves with the command's exit status, whatever
   * it is. With detach: a container left running under its own monitor, once its command runs.
   */
  async run(o: RunOptions & { detach: true }): Promise<Container>;
  async run(o: RunOptions & { detach?: false }): Promise<RunResult>;
  async run(o: RunOptions): Promise<RunResult | Container> {
    if (o.detach === true) {
      const { detachedRun } = await import('./detached-run.js');
      return detachedRun(o, this.options);
    }
    const { foregroundRun } = await import('./foreground-run.js');
    return foregroundRun(o, this.options);
  }

  /** A detached container by name, full ID or unique ID prefix. */
  async container(ref: string): Promise<Container> {
    const [{ containerFor }, { containersRoot }] = await Promise.all([import('./container.js'), import('../container/container-state.js')]);
    return containerFor(containersRoot(this.options.runtimeDir), ref);
  }

  /** The lifecycle events of the user's detached containers, oldest first (as `flux events --format json`). */
  async events(o: { since?: Date | string } = {}): Promise<ContainerEvent[]> {
    const [{ readEvents }, { containersRoot }, { sinceOption }] = await Promise.all([import('../container/container-events.js'), import('../container/container-state.js'), import('../container/since-time.js')]);
    return readEvents(containersRoot(this.options.runtimeDir), sinceOption(o.since));
  }

  /** Removes every detached container that has ended, with its log; resolves with their IDs. */
  async pruneContainers(): Promise<string[]> {
    const all = await this.containers({ all: true });
    const ended = all.filter((c) => c.status().state === 'exited');
    for (const c of ended) await c.remove();
    // Writable layers whose container's state is gone (the runtime directory went with a reboot).
    const [{ removeOrphanLayers }, { containersRoot }, { Store }] = await Promise.all([
      import('../container/container-layer.js'),
      import('../container/container-state.js'),
      import('../../store/store.js'),
    ]);
    const store = Store.openExisting(this.options.store);
    const orphans = store ? await removeOrphanLayers(containersRoot(this.options.runtimeDir), store.root) : [];
    return [...ended.map((c) => c.id), ...orphans];
  }

  /** The detached containers that run (with all, those that ended too), oldest first. */
  async containers(o: { all?: boolean } = {}): Promise<Container[]> {
    const [{ allContainers }, { containersRoot }] = await Promise.all([import('./container.js'), import('../container/container-state.js')]);
    return allContainers(containersRoot(this.options.runtimeDir), o.all ?? false);
  }

  /** One command over many images in parallel, one record per image (as `flux matrix --json`). */
  async matrix(o: MatrixOptions): Promise<MatrixRecord[]> {
    const { matrixRun } = await import('./matrix-run.js');
    return matrixRun(o, this.options);
  }

  /**
   * Times warm runs of `true` in a stored image (the shipped busybox by default), stage by stage,
   * with `node -e 0` and bwrap on the same tree as floors, as `flux bench`.
   */
  async bench(o: BenchOptions = {}): Promise<BenchReport> {
    const { warmBench } = await import('./warm-bench.js');
    return warmBench(o, this.options);
  }

  /** Creates a user network (a bridge in a namespace held by a process that outlives flux), as `flux network create`. */
  async createNetwork(name: string, o: { subnet?: string; internal?: boolean } = {}): Promise<NetworkInfo> {
    const { createNetwork } = await import('../container/user-networks.js');
    return createNetwork(name, { ...o, ...this.runtime() });
  }

  /** Every user network with its members, as `flux network ls --format json`. */
  async networks(): Promise<NetworkInfo[]> {
    return (await import('../container/user-networks.js')).listNetworks(this.options.runtimeDir);
  }

  /** One user network, as `flux network inspect`. */
  async inspectNetwork(name: string): Promise<NetworkInfo> {
    return (await import('../container/user-networks.js')).inspectNetwork(name, this.options.runtimeDir);
  }

  /** Removes a user network; refused while containers use it unless `force`, as `flux network rm`. */
  async removeNetwork(name: string, o: { force?: boolean } = {}): Promise<void> {
    return (await import('../container/user-networks.js')).removeNetwork(name, { ...o, ...this.runtime() });
  }

  /** Removes every user network no container uses; returns their names, as `flux network prune`. */
  async pruneNetworks(): Promise<string[]> {
    return (await import('../container/user-networks.js')).pruneNetworks(this.options.runtimeDir);
  }

  private runtime(): { runtimeDir?: string } {
    return this.options.runtimeDir === undefined ? {} : { runtimeDir: this.options.runtimeDir };
  }
}
