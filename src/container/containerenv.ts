/**
 * `/run/.containerenv`, in podman's format: tools (toolbox, distrobox, systemd-detect-virt, shell
 * prompts) read it to learn they run in a container, and which one.
 */

export interface ContainerIdentity {
  /** A name: --name, else the id's first 12 digits. */
  name: string;
  /** 64 hex digits, new for each run. */
  id: string;
  /** The image as the run named it (its reference), or the root filesystem directory. */
  image: string;
  /** The image's ID (its config digest's hex); empty for a root filesystem directory. */
  imageId: string;
  rootless: boolean;
}

/** The engine, as podman writes `podman-4.9.3`. */
export const ENGINE = 'flux-0.1.0';

/** Values are quoted as podman quotes them; a quote or backslash in a name is escaped, control characters dropped. */
function quote(v: string): string {
  // eslint-disable-next-line no-control-regex
  return `"${v.replace(/[\x00-\x1f\x7f]/g, '').replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function containerEnvFile(c: ContainerIdentity): string {
  return [
    `engine=${quote(ENGINE)}`,
    `name=${quote(c.name)}`,
    `id=${quote(c.id)}`,
    `image=${quote(c.image)}`,
    `imageid=${quote(c.imageId)}`,
    `rootless=${c.rootless ? 1 : 0}`,
    '',
  ].join('\n');
}
