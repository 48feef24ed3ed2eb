#!/usr/bin/env node
/**
 * TCP from inside a network namespace (the bench enters a container's with nsenter), timed with
 * the monotonic clock rather than busybox's second-resolution tools:
 *   node tcp-probe.mjs connect ADDR PORT N   → {"ms":[…]}: N handshakes, each until connected
 *   node tcp-probe.mjs send ADDR PORT MB     → {"MBps":…}: MB MiB written, until the peer closed
 * A refused connect (the peer's listener restarting between runs) is retried for a few seconds.
 */
import { connect } from 'node:net';

const [mode, host, portText, countText] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);

function open() {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const s = connect({ host, port });
    s.once('connect', () => {
      s.off('error', reject);
      // From here a reset (the peer gone) ends the probe with its reason, not a silent wait.
      s.on('error', (err) => {
        console.error(`tcp-probe: ${host}:${port}: ${err.message}`);
        process.exit(1);
      });
      resolve({ s, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    });
    s.once('error', reject);
  });
}

async function openRetrying() {
  for (let i = 0; ; i++) {
    try {
      return await open();
    } catch (err) {
      if (i > 100 || err.code !== 'ECONNREFUSED') throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

if (mode === 'connect') {
  const ms = [];
  for (let i = 0; i < count; i++) {
    const { s, ms: t } = await openRetrying();
    ms.push(t);
    await new Promise((r) => {
      s.once('close', r);
      s.destroy();
    });
  }
  console.log(JSON.stringify({ ms }));
} else if (mode === 'send') {
  const { s } = await openRetrying();
  const chunk = Buffer.alloc(1 << 20);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < count; i++) if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
  s.end();
  // The peer reads to the end, then closes: every byte has crossed by then.
  await new Promise((r) => s.once('close', r));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ MBps: count / secs }));
} else {
  console.error('usage: tcp-probe.mjs connect|send ADDR PORT N');
  process.exit(2);
}
