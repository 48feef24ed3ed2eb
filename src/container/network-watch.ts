/**
 * The network's holder is this shell loop, not a bare `sleep`: it already lives as long as the
 * network, so it is where a member that ends without leaving (its run killed with kill -9) is
 * noticed, with no daemon beyond it. Once a second it reads members.tsv (one line per member:
 * its namespace holder's pid and start time, its owner's pid and start time, its address and
 * names); when a member's owner or namespace holder is gone it takes the network's lock (the
 * same .lock directory user-networks.ts takes), rewrites members.tsv, the hosts file and each
 * remaining member's hosts.d/PID (its own lines from PID.own, then the network's names) in place
 * (members have them bind-mounted) without that member, removes that member's own files and
 * ends its namespace holder, so its veth goes. members.json is left alone: readMembers() drops
 * such a member by the same test.
 * The loop uses shell builtins (read, printf) but for its `sleep 1`, and ends when the network's
 * directory is gone.
 */
export const WATCH_SCRIPT = [
  'd=$1',
  'alive() { { read -r s < /proc/$1/stat; } 2>/dev/null || return 1; s=${s##*) }; want=$2; set -- $s; [ "$1" != Z ] && [ "${20}" = "$want" ]; }',
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
  '      alive "$np" "$ns" && kill -9 "$np"',
  '      rm -f "$d/hosts.d/$np" "$d/hosts.d/$np.own"',
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
