/** The end of a detached container without flux's command line: `node ended-main.js ROOT ID` (see ended.ts). */
import { runEnded } from './ended.js';

const [root, id] = process.argv.slice(2);
runEnded(root!, id!).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`flux: the end of container ${id}: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  },
);
