/**
 * What a shell needs to complete flux, read from the commander definitions themselves (every
 * subcommand, every flag, the fixed value sets), so a completion script cannot drift from the
 * real command line.
 */
import type { Command, Option } from 'commander';
import { NETWORK_MODES } from '../flags/run-flags.js';

export interface OptionSpec {
  /** `--network`, `-e`: every spelling. */
  flags: string[];
  /** Takes a value (`--network MODE`). */
  value: boolean;
  /** The value's fixed set, if it has one. */
  values?: string[];
  /** The value is an image reference (`flux matrix --image`). */
  image?: boolean;
  /** The value is a path (`--rootfs <dir>`, `--env-file <file>`). */
  path?: boolean;
  /** The value may also be a user network's name (`--network`): offered beside `values`. */
  network?: boolean;
  /** May be given more than once (`-e A -e B`). */
  repeatable?: boolean;
  description: string;
}

export interface CommandSpec {
  /** The command's words after `flux`: `run`, or `network create` for a subcommand's own. */
  name: string;
  /** The word that names it on the line: `create` for `network create`. */
  word: string;
  /** The command it is a subcommand of (`network`), if any. */
  parent?: string;
  description: string;
  options: OptionSpec[];
  /** The first operand is an image: stored references are offered. */
  imageOperand: boolean;
  /** Every operand is an image (`rmi`, `inspect`, `matrix`), not just the first (`run`, `pull`). */
  manyImages: boolean;
  /** The first operand is a container (`logs`, `exec`): names and IDs of the user's containers are offered. */
  containerOperand: boolean;
  /** Every operand is a container (`stop`, `rm`, `wait`). */
  manyContainers: boolean;
  /** Every operand is a user network (`network rm`, `network inspect`): their names are offered. */
  manyNetworks: boolean;
  /** The first operand's fixed set (`flux completion bash|zsh|fish`). */
  operandValues?: string[];
}

export interface CompletionSpec {
  /** Flags before any subcommand (`--version`). */
  global: OptionSpec[];
  commands: CommandSpec[];
  /** The subcommand a bare `flux IMAGE` means. */
  defaultCommand: string;
}

/** Platforms images are commonly published for: `--platform` has no fixed set, these are the usual ones. */
const PLATFORMS = ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/arm/v6', 'linux/386', 'linux/ppc64le', 'linux/s390x', 'linux/riscv64'];

/** Values of options commander holds as free text, but whose meaningful values are few. */
const VALUE_SETS: Record<string, string[]> = {
  '--network': [...NETWORK_MODES],
  '--platform': PLATFORMS,
  '--security-opt': ['no-new-privileges', 'seccomp=unconfined'],
};

const IMAGE_VALUED = new Set(['--image']);
/** Values that may name a user network (flux network create) besides a mode. */
const NETWORK_VALUED = new Set(['--network']);
/** Values that are host paths (`--workdir` is a directory too, but inside the container). */
const PATH_VALUED = new Set(['--rootfs', '--env-file', '--images-file', '--results', '--junit', '--html']);

/** `--format`'s values: the same flag names archive formats for `flux save`, output formats elsewhere. */
function formats(command: string): string[] {
  if (command === 'save') return ['docker-archive', 'oci-archive'];
  if (command === 'info') return ['json'];
  return ['json', 'table'];
}

function optionSpec(o: Option, command = ''): OptionSpec {
  const flags = [o.long, o.short].filter((f): f is string => typeof f === 'string');
  const value = o.required || o.optional;
  const spec: OptionSpec = { flags, value, description: o.description };
  const values = o.argChoices ?? (o.long === '--format' ? formats(command) : o.long ? VALUE_SETS[o.long] : undefined);
  if (value && values) spec.values = [...values];
  if (value && (Array.isArray(o.defaultValue) || /\(repeatable\)/.test(o.description))) spec.repeatable = true;
  if (value && o.long && NETWORK_VALUED.has(o.long)) spec.network = true;
  if (value && o.long && IMAGE_VALUED.has(o.long)) spec.image = true;
  else if (value && o.long && PATH_VALUED.has(o.long)) spec.path = true;
  return spec;
}

/** commander's own --help is not in cmd.options (added here); hidden options stay hidden here too. */
function visible(cmd: Command): Option[] {
  return cmd.options.filter((o) => !o.hidden);
}

const HELP: OptionSpec = { flags: ['--help', '-h'], value: false, description: 'display help for command' };

/** Hidden commands (`__complete`) are the completion's own plumbing, not for people. */
function shown(cmds: readonly Command[]): Command[] {
  return cmds.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
}

function commandSpec(cmd: Command, parent?: string): CommandSpec {
  const args = cmd.registeredArguments;
  const first = args[0]?.name() ?? '';
  const subs = shown(cmd.commands).map((c) => c.name());
  // A command with subcommands (`flux network`) takes one of them first.
  const choices = subs.length > 0 ? subs : (args[0] as unknown as { argChoices?: string[] } | undefined)?.argChoices;
  return {
    ...(choices ? { operandValues: [...choices] } : {}),
    name: parent ? `${parent} ${cmd.name()}` : cmd.name(),
    word: cmd.name(),
    ...(parent ? { parent } : {}),
    description: cmd.summary() || cmd.description().split('\n')[0] || '',
    options: [...visible(cmd).map((o) => optionSpec(o, cmd.name())), HELP],
    imageOperand: /^image/.test(first),
    manyImages: /^image/.test(first) && args.length === 1 && args[0]!.variadic,
    containerOperand: /^container/.test(first),
    manyContainers: /^container/.test(first) && args.length === 1 && args[0]!.variadic,
    manyNetworks: /^network/.test(first) && args.length === 1 && args[0]!.variadic,
  };
}

export function completionSpec(program: Command): CompletionSpec {
  const commands: CommandSpec[] = [];
  for (const cmd of shown(program.commands)) {
    commands.push(commandSpec(cmd));
    for (const sub of shown(cmd.commands)) commands.push(commandSpec(sub, cmd.name()));
  }
  const names = commands.filter((c) => !c.parent).map((c) => c.name);
  commands.push({ name: 'help', word: 'help', description: 'display help for command', options: [], imageOperand: false, manyImages: false, containerOperand: false, manyContainers: false, manyNetworks: false, operandValues: names });
  return { global: [...visible(program).map((o) => optionSpec(o)), HELP], commands, defaultCommand: 'run' };
}
