/**
 * cli-progress, in a module of its own: loaded only when bars are drawn (stderr is a terminal).
 * Required from progress.ts it made every pull's start load `node:module` (for createRequire,
 * with Node's ES module loader behind it) before its first request, terminal or not.
 */
import cliProgress from 'cli-progress';

export { cliProgress };
