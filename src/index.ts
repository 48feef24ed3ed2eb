/**
 * flux's public entry: `import { Flux, FluxError } from 'flux'`. Only what is exported here is
 * the library's API; everything else under src/ may change.
 */
export { Flux } from './library/flux.js';
export { FluxError, isFluxError } from './errors.js';
export type { FluxOptions, ImageInfo, OutputTarget, PruneResult, PullEvents, PullOptions, PullPolicy, RemoveResult, RunOptions, RunResult } from './library/api-types.js';
export type { MatrixEvent, MatrixOptions, MatrixRecord } from './library/matrix-run.js';
export type { SaveOptions, ArchiveFormat } from './library/save-images.js';
export type { PushImageOptions, PushResult } from './library/push-image.js';
export type { FluxInfo, Missing } from './library/machine-info.js';
export type { BenchFigure, BenchFloor, BenchOptions, BenchReport } from './library/warm-bench.js';
export { Container } from './library/container.js';
export type { ContainerEvent } from './library/container.js';
export type { ContainerInfo, ContainerStats, ContainerStatus, ExecOptions, LogLine } from './library/container.js';
