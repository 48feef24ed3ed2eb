/** The monitor's program: `node monitor-main.js ROOT ID` (see monitor.ts). */
import { runMonitor } from './monitor.js';

const [root, id] = process.argv.slice(2);
runMonitor(root!, id!).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`flux monitor: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  },
);
