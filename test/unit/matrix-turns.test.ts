import { describe, expect, it } from 'vitest';
import { createTurns } from '../../src/matrix/turns.js';

describe('turns at the one thread of a matrix', () => {
  it('gives each taker its turn only once every earlier one has released its own, in the order taken', async () => {
    const turns = createTurns();
    const order: string[] = [];
    const first = await turns.take();
    const second = turns.take().then((release) => (order.push('second'), release));
    const third = turns.take().then((release) => (order.push('third'), release));
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([]);
    first();
    const releaseSecond = await second;
    await new Promise((r) => setTimeout(r, 10));
    // The third waits for the second, not only for the first.
    expect(order).toEqual(['second']);
    releaseSecond();
    (await third)();
    expect(order).toEqual(['second', 'third']);
  });

  it('counts only the first release of a turn', async () => {
    const turns = createTurns();
    const first = await turns.take();
    const second = await (async () => {
      const p = turns.take();
      first();
      return p;
    })();
    const third = turns.take();
    let started = false;
    void third.then(() => (started = true));
    // A second release of the first turn must not hand the second taker's turn on.
    first();
    await new Promise((r) => setTimeout(r, 10));
    expect(started).toBe(false);
    second();
    await third;
    expect(started).toBe(true);
  });
});
