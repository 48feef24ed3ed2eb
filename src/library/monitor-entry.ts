/** The monitor of a detached container, for the command line's hidden `__monitor` (see container/monitor.ts). */
export { runMonitor } from '../container/monitor.js';
