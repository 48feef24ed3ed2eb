/**
 * The network's holder is this shell loop, not a bare `sleep`: it already lives as long as the
 * network, so it is where a member that ends without leaving (its run killed with kill -9) is
 * noticed, with no daemon beyond it. Once a second it reads members.tsv (one line per member:
 * its namespace holder's pid and start time, its owner's pid and start time, its address and
 * names); when a member's owner or namespace holder is gone it takes the network's lock (the
 * same .lock directory user-networks.ts takes), removes that member's own hosts files
 * (hosts.d/PID and PID.own) and its `-p` forwards, ends its namespace holder, so its veth goes,
 * and rewrites without that member members.tsv and, in place (members have them
 * bind-mounted), the hosts file and each remaining member's hosts.d/PID (its own lines from
 * PID.own, then the network's names). The forwards go, or the host port would stay bound and
 * reach whichever member gets the address next: forwards.NETPID (written by writeMembers) lists
 * them, a slirp4netns forward id and the holder's NAT rule a line. The rule is deleted here; the
 * forward is removed through slirp4netns's API socket, which needs a socket client the shell
 * lacks, so node ($2, the one that ran `network create`) runs FORWARD_REMOVER. The file goes
 * once that worked; if it did not, flux removes them by the same file (dropForwards in
 * network-ports.ts). members.json is left alone: readMembers() leaves such a member out by the
 * same test. The check once a second uses shell builtins (read) but for its `sleep 1`; other
 * programs run only when a member is gone. The loop ends when the network's directory is gone.
 */

/**
 * `node -e` with the API socket and forward ids as arguments: one remove_hostfwd request per
 * connection (as slirp4netns answers), bounded by a timeout so a stuck slirp4netns cannot stop
 * the loop. Plain JavaScript without quotes of its own ' (it is put in single quotes).
 */
export const FORWARD_REMOVER = [
  'const net = require("node:net");',
  'const [sock, ...ids] = process.argv.slice(1);',
  'setTimeout(() => process.exit(1), 5000).unref();',
  'const one = (id) => new Promise((ok, no) => {',
  '  const c = net.connect(sock, () => c.write(JSON.stringify({ execute: "remove_hostfwd", arguments: { id: Number(id) } })));',
  '  let out = "";',
  '  c.on("data", (d) => (out += d));',
  '  c.on("error", no);',
  '  c.on("close", () => (out.includes("\\"error\\"") ? no(new Error(out)) : ok()));',
  '});',
  '(async () => { for (const id of ids) await one(id); })().then(() => process.exit(0), () => process.exit(1));',
].join('\n');

export const WATCH_SCRIPT = [
  'd=$1 node=$2',
  // iptables lives in sbin, which a user's PATH often lacks.
  'PATH=$PATH:/usr/sbin:/sbin',
  'alive() { { read -r s < /proc/$1/stat; } 2>/dev/null || return 1; s=${s##*) }; want=$2; set -- $s; [ "$1" != Z ] && [ "${20}" = "$want" ]; }',
  // $1: a member's forwards file. The rules hold no quotes or globs: split on blanks as written.
  'unforward() {',
  '  [ -f "$1" ] || return 0',
  '  ids=',
  '  while read -r id rule; do ids="$ids $id"; iptables -t nat -D $rule 2>/dev/null; done < "$1"',
  `  "$node" -e '${FORWARD_REMOVER}' "$d/slirp.sock" $ids </dev/null >/dev/null 2>&1 && rm -f "$1"`,
  '}',
  'while [ -d "$d" ]; do',
  '  sleep 1',
  '  [ -f "$d/members.tsv" ] || continue',
  '  gone=',
  '  while read -r np ns op os rest; do alive "$np" "$ns" && alive "$op" "$os" || gone=1; done < "$d/members.tsv"',
  '  [ -n "$gone" ] || continue',
  // A lock left by a flux that was killed holding it goes after a minute (flux's own rule: 30 s).
  '  mkdir "$d/.lock" 2>/dev/null || { find "$d/.lock" -maxdepth 0 -mmin +1 -exec rmdir {} + 2>/dev/null; continue; }',
  "  keep= names= head='127.0.0.1\tlocalhost",
  '::1\tlocalhost ip6-localhost ip6-loopback',
  "'",
  '  while read -r np ns op os addr rest; do',
  '    if alive "$np" "$ns" && alive "$op" "$os"; then',
  '      keep="$keep$np $ns $op $os $addr $rest',
  '"',
  '      names="$names$addr\t$rest',
  '"',
  '    else',
  '      rm -f "$d/hosts.d/$np" "$d/hosts.d/$np.own"',
  '      unforward "$d/forwards.$np"',
  '      if alive "$np" "$ns"; then kill -9 "$np"; fi',
  '    fi',
  '  done < "$d/members.tsv"',
  '  printf \'%s\' "$keep" > "$d/members.tsv.tmp" && mv -f "$d/members.tsv.tmp" "$d/members.tsv"',
  '  printf \'%s%s\' "$head" "$names" > "$d/hosts"',
  '  while read -r np rest; do',
  '    own=',
  '    while IFS= read -r l; do own="$own$l',
  '"; done < "$d/hosts.d/$np.own"',
  '    printf \'%s%s%s\' "$head" "$own" "$names" > "$d/hosts.d/$np"',
  '  done < "$d/members.tsv"',
  '  rmdir "$d/.lock"',
  'done',
].join('\n');

/** members.tsv's line for a member (see WATCH_SCRIPT); names hold no blanks (checked names). */
export const watchLine = (m: { netPid: number; netStart: number; owner: { pid: number; start: number }; address: string; names: string[] }): string =>
  `${m.netPid} ${m.netStart} ${m.owner.pid} ${m.owner.start} ${m.address} ${m.names.join(' ')}\n`;

/** forwards.NETPID's text for a member's forwards (see WATCH_SCRIPT). */
export const forwardLines = (forwards: { id: number; rule: string }[]): string => forwards.map((f) => `${f.id} ${f.rule}\n`).join('');
