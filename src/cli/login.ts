import type { Command } from 'commander';
import { FluxError } from '../errors.js';

export function register(program: Command): void {
  program
    .command('login')
    .description('Log in to a registry: check the credentials with it, then save them (docker\'s format, mode 0600).')
    .argument('<registry>', 'registry host, e.g. registry.example.com:5000 or docker.io')
    .option('-u, --username <user>', 'user name (asked for on a terminal when missing)')
    .option('-p, --password <password>', 'password (visible to other users in the process list: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--insecure', 'allow plain HTTP and unverified TLS for this registry')
    .action(async (registry: string, opts: { username?: string; password?: string; passwordStdin?: boolean; insecure?: boolean }) => {
      const tty = process.stdin.isTTY === true;
      const { prompt, readStdin } = await import('./prompt.js');
      if (opts.password !== undefined && opts.passwordStdin) {
        throw new FluxError('BAD_FLAG', '--password and --password-stdin exclude each other.', { hint: 'Use only one of them.', exitCode: 125 });
      }
      let username = opts.username;
      if (username === undefined) {
        if (!tty || opts.passwordStdin) throw new FluxError('BAD_FLAG', 'no user name given.', { hint: 'Pass it with -u USER.', exitCode: 125 });
        username = (await prompt('Username: ', false)).trim();
      }
      let password = opts.password;
      if (opts.passwordStdin) password = await readStdin();
      else if (password === undefined) {
        if (!tty) throw new FluxError('BAD_FLAG', 'no password given and standard input is not a terminal.', { hint: 'Pass it with --password-stdin.', exitCode: 125 });
        password = await prompt('Password: ', true);
      } else {
        process.stderr.write('flux: warning: a password given with -p is visible to other users; prefer --password-stdin.\n');
      }
      const { login } = await import('../library/login.js');
      const { path, needed } = await login({ registry, username, password, insecure: opts.insecure });
      if (!needed) process.stderr.write(`flux: note: ${registry} asks for no login; the credentials were saved anyway.\n`);
      process.stderr.write(`Login succeeded; credentials saved in ${path}.\n`);
    });

  program
    .command('logout')
    .description('Remove the credentials `flux login` saved for a registry.')
    .argument('<registry>', 'registry host')
    .action(async (registry: string) => {
      const { logout } = await import('../library/logout.js');
      const path = await logout(registry);
      process.stderr.write(`Removed the credentials for ${registry} from ${path}.\n`);
    });
}
