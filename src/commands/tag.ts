/** `flux tag`: a new name for a stored image. */
import { Flux } from '../library/flux.js';

export async function tagCommand(source: string, target: string): Promise<void> {
  await new Flux().tag(source, target);
}
