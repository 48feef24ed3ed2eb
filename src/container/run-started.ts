/** The hand-over between a run's two halves: what runCommand settled and started, which runImage carries on from. */
import type { Store } from '../../store/store.js';
import type { IdMaps } from '../userns/idmap.js';
import type { NamespaceSpec, RlimitSpec, TmpfsSpec } from '../sandbox/plan.js';
import type { overlayChoice, RunDir } from '../sandbox/rootfs.js';
import type { LaunchOptions, Sandbox } from '../sandbox/supervisor.js';
import type { PortForward } from '../sandbox/network-types.js';
import type { VolumeRequest } from './volume-options.js';
import type { Joined } from './user-networks.js';
import type { RunIO, RunOptions } from './run-types.js';

/** What runCommand settled before reading the image, the started helper included. */
export interface Started {
  io: RunIO | undefined;
  image: string | { rootfs: string };
  cmd: string[];
  o: RunOptions;
  say: (text: string) => void;
  resolver: Promise<typeof import('../pull/pull-image.js')>;
  networking: Promise<typeof import('../sandbox/network.js')>;
  security: { noNewPrivileges: boolean; seccomp: boolean };
  caps: Set<string>;
  volumes: VolumeRequest[];
  tmpfs: TmpfsSpec[];
  rlimits: RlimitSpec[];
  stopSignal: NodeJS.Signals | undefined;
  choice: ReturnType<typeof overlayChoice>;
  limits: Awaited<ReturnType<typeof import('../sandbox/limits.js').checkLimits>> | undefined;
  /** --pids-limit without a cgroup: applied through RLIMIT_NPROC (sandbox/pids-rlimit.ts). */
  nproc: number | undefined;
  maps: IdMaps | undefined;
  mode: string;
  publish: PortForward[];
  /** A host port of -p was flux's choice. */
  chosen: boolean;
  network: import('../sandbox/network.js').NetworkPlan;
  namespaces: NamespaceSpec;
  launch: LaunchOptions;
  sandbox: Sandbox;
  store: Store;
  /** Chosen, not yet made: the helper and claimRunDir make it. */
  rd: RunDir;
  /** The container's 64-digit id (its first 12 digits are its default host name). */
  id: string;
  /** The user network joined, if any. */
  userNet: Joined | undefined;
  /** Set once a detached container's monitor holds it: nothing is to be cleaned up here. */
  handed: { done: boolean };
}
