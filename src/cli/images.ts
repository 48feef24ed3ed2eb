import type { Command } from 'commander';

export function register(_program: Command): void {
  // Filled in by the images command.
}
