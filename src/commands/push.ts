/** `flux push`: a stored image to a registry; prints the manifest digest. */
import { Flux } from '../library/flux.js';

export async function pushCommand(image: string, destination: string | undefined, o: { insecure?: boolean; quiet?: boolean }): Promise<void> {
  const r = await new Flux().push(image, destination, o.insecure ? { insecure: true } : {});
  if (!o.quiet) process.stderr.write(`pushed ${r.sent} blob${r.sent === 1 ? '' : 's'} (${r.sentBytes} bytes), ${r.present} already there, ${r.mounted} mounted\n`);
  process.stdout.write(`${r.digest}\n`);
}
