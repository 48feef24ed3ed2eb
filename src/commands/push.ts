/** `flux push`: a stored image to a registry; a line per blob on stderr, the manifest digest on stdout. */
import { Flux } from '../library/flux.js';

const SAID = { present: 'already there', mounted: 'mounted', sent: 'sent' } as const;

export async function pushCommand(image: string, destination: string | undefined, o: { insecure?: boolean; quiet?: boolean }): Promise<void> {
  const onBlob = o.quiet ? undefined : (digest: string, outcome: keyof typeof SAID): void => void process.stderr.write(`blob ${digest.slice(7, 19)} ${SAID[outcome]}\n`);
  const r = await new Flux().push(image, destination, { ...(o.insecure ? { insecure: true } : {}), ...(onBlob ? { onBlob } : {}) });
  if (!o.quiet) process.stderr.write(`pushed ${r.sent} blob${r.sent === 1 ? '' : 's'} (${r.sentBytes} bytes), ${r.present} already there, ${r.mounted} mounted\n`);
  process.stdout.write(`${r.digest}\n`);
}
