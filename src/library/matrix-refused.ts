/**
 * Run options that make no sense for many runs at once with captured output (one terminal, one
 * stdin, one host port, one name on a network): `flux matrix` refuses their flags and
 * `flux.matrix()` their options, from this one table.
 */
export const NOT_FOR_MANY: readonly { option: string; flag: string }[] = [
  { option: 'tty', flag: '--tty' },
  { option: 'stdin', flag: '--interactive' },
  { option: 'ports', flag: '--publish' },
  { option: 'publishAll', flag: '--publish-all' },
  { option: 'preserveFds', flag: '--preserve-fds' },
  { option: 'networkAliases', flag: '--network-alias' },
];

/** The first of these options given a value that asks for it (stdin 'ignore', false, [] do not). */
export function manyRunOption(given: Record<string, unknown>): string | undefined {
  return NOT_FOR_MANY.find(({ option }) => {
    const v = given[option];
    if (option === 'stdin') return v === 'inherit';
    return v !== undefined && v !== false && !(Array.isArray(v) && v.length === 0);
  })?.option;
}

/** The flags `flux matrix` refuses. */
export const NOT_FOR_MANY_FLAGS: ReadonlySet<string> = new Set(NOT_FOR_MANY.map((n) => n.flag));
