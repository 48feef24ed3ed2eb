import type { Command } from 'commander';

/** The commands on detached containers (`flux run -d`). */
export function register(program: Command): void {
  program
    .command('__ended', { hidden: true })
    .argument('<root>')
    .argument('<id>')
    .action(async (root: string, id: string) => {
      const { endedCommand } = await import('../commands/ended.js');
      await endedCommand(root, id);
    });
  program
    .command('ps')
    .description('List the detached containers that run (-a: those that ended too), with live CPU, memory and process counts.')
    .option('-a, --all', 'show ended containers too')
    .option('-q, --quiet', 'print only the IDs')
    .option('--format <format>', 'json or table (default)')
    .action(async (o: { all?: boolean; quiet?: boolean; format?: string }) => {
      const { psCommand } = await import('../commands/containers.js');
      await psCommand(o);
    });
  program
    .command('stats')
    .description('Show CPU, memory, network and process counts of running containers (all, or those named): refreshed each second on a terminal, once otherwise.')
    .argument('[container...]', 'names, IDs or unique ID prefixes')
    .option('--no-stream', 'print once and exit')
    .option('--format <format>', 'json or table (default)')
    .action(async (refs: string[], o: { stream?: boolean; format?: string }) => {
      const { statsCommand } = await import('../commands/containers.js');
      await statsCommand(refs, { noStream: o.stream === false, ...(o.format !== undefined ? { format: o.format } : {}) });
    });
  program
    .command('container')
    .description('Manage detached containers as a whole.')
    .command('prune')
    .description('Remove every detached container that has ended, with its log.')
    .action(async () => {
      const { containerPruneCommand } = await import('../commands/containers.js');
      await containerPruneCommand();
    });
  program
    .command('events')
    .description('Print what happened to your detached containers: created, started, signalled (by which flux process), exited with its code, removed.')
    .option('--since <time>', 'only events since a time (2026-01-01T10:00:00Z) or for a duration (10m, 2h)')
    .option('--format <format>', 'json or table (default)')
    .action(async (o: { since?: string; format?: string }) => {
      const { eventsCommand } = await import('../commands/containers.js');
      await eventsCommand(o);
    });
  program
    .command('logs')
    .description('Print a container\'s output: its stdout to stdout and its stderr to stderr, in order.')
    .argument('<container>', 'name, ID or unique ID prefix')
    .option('-f, --follow', 'keep printing new lines until the container ends')
    .option('-t, --timestamps', 'put the time each line was written before it')
    .option('-n, --tail <lines>', 'only the last N lines (or all)')
    .option('--since <time>', 'only lines written since a time (2026-01-01T10:00:00Z) or for a duration (10m, 2h)')
    .action(async (ref: string, o: { follow?: boolean; timestamps?: boolean; tail?: string; since?: string }) => {
      const { logsCommand } = await import('../commands/containers.js');
      process.exitCode = await logsCommand(ref, o);
    });
  program
    .command('stop')
    .description('Stop containers: their stop signal (--stop-signal, else the image\'s StopSignal, else SIGTERM), then after the timeout SIGKILL of every process in them.')
    .argument('<container...>', 'names, IDs or unique ID prefixes')
    .option('-t, --time <seconds>', 'seconds to wait before SIGKILL (default 10)')
    .action(async (refs: string[], o: { time?: string }) => {
      const { stopCommand } = await import('../commands/containers.js');
      await stopCommand(refs, o);
    });
  program
    .command('kill')
    .description('Send a signal to containers (default SIGKILL, to every process in them).')
    .argument('<container...>', 'names, IDs or unique ID prefixes')
    .option('-s, --signal <signal>', 'the signal, e.g. TERM, SIGHUP or 10 (default KILL)')
    .action(async (refs: string[], o: { signal?: string }) => {
      const { killCommand } = await import('../commands/containers.js');
      await killCommand(refs, o);
    });
  program
    .command('exec')
    .description('Run a command in a running container, as its own command runs (user, capabilities, seccomp, environment). The exit code is the command\'s.')
    .argument('<container>', 'name, ID or unique ID prefix')
    .argument('<command...>', 'command and arguments')
    .option('-i, --interactive', 'pass stdin to the command')
    .option('-t, --tty', 'give the command a pseudo-terminal')
    .option('-e, --env <K=V>', 'set an environment variable; bare K takes the host value (repeatable)', (v: string, prev: string[]) => [...prev, v], [])
    .option('-u, --user <user[:group]>', 'user (name or uid) and group, from the container\'s /etc/passwd')
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .passThroughOptions()
    .action(async (ref: string, command: string[], o: { interactive?: boolean; tty?: boolean; env?: string[]; user?: string; workdir?: string }) => {
      const { execCommand } = await import('../commands/containers.js');
      process.exitCode = await execCommand(ref, command, o);
    });
  program
    .command('port')
    .description('List a container\'s port forwards (80/tcp -> 0.0.0.0:49153), or the host addresses of one container port.')
    .argument('<container>', 'name, ID or unique ID prefix')
    .argument('[port]', 'a container port: 80, 80/tcp or 53/udp')
    .action(async (ref: string, port: string | undefined) => {
      const { portCommand } = await import('../commands/containers.js');
      await portCommand(ref, port);
    });
  program
    .command('wait')
    .description('Wait for containers to end and print each one\'s exit code.')
    .argument('<container...>', 'names, IDs or unique ID prefixes')
    .action(async (refs: string[]) => {
      const { waitCommand } = await import('../commands/containers.js');
      await waitCommand(refs);
    });
  program
    .command('rm')
    .description('Remove ended containers with their logs (-f: stop running ones first).')
    .argument('<container...>', 'names, IDs or unique ID prefixes')
    .option('-f, --force', 'kill a running container first')
    .action(async (refs: string[], o: { force?: boolean }) => {
      const { rmCommand } = await import('../commands/containers.js');
      await rmCommand(refs, o);
    });
}
