/**
 * A line diff by longest common subsequence: enough for the few hundred lines of stdout the
 * matrix keeps per run (quadratic, so callers pass bounded lists). Pure.
 */
export type DiffOp = { kind: 'same' | 'removed' | 'added'; line: string };

export function lineDiff(from: readonly string[], to: readonly string[]): DiffOp[] {
  const n = from.length;
  const m = to.length;
  // lcs[i][j]: length of the longest common subsequence of from[i..] and to[j..].
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = from[i] === to[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const ops: DiffOp[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (from[i] === to[j]) {
      ops.push({ kind: 'same', line: from[i]! });
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) ops.push({ kind: 'removed', line: from[i++]! });
    else ops.push({ kind: 'added', line: to[j++]! });
  }
  while (i < n) ops.push({ kind: 'removed', line: from[i++]! });
  while (j < m) ops.push({ kind: 'added', line: to[j++]! });
  return ops;
}
