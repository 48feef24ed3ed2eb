/**
 * Turns at one thread: the runs of a matrix in one process share its single JavaScript thread,
 * and each run's own part (reading the image, planning the root, starting the helper) is CPU work
 * there, while the rest of the run is the helper's and the kernel's. Started together, the runs'
 * steps interleave and every helper waits for the last plan to be made; taking turns, the first
 * helper gets its plan as early as a single run's would and builds its container while the next
 * run is planned.
 *
 * `take()` resolves once every earlier taker has released its turn; the release it returns may be
 * called more than once (the first call counts).
 */
export function createTurns(): { take(): Promise<() => void> } {
  let tail: Promise<void> = Promise.resolve();
  return {
    async take() {
      const before = tail;
      let done!: () => void;
      tail = new Promise<void>((resolve) => (done = resolve));
      await before;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        done();
      };
    },
  };
}
