/** The end of a detached container, for the command line's hidden `__ended` (see container/ended.ts). */
export { runEnded } from '../container/ended.js';
