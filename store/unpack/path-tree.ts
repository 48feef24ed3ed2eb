/**
 * A map from layer-relative paths (`a/b/c`, `''` for the root) to values that can drop a whole
 * subtree at once. The entry writer forgets everything under a directory when a later entry
 * replaces it; scanning every known path for that prefix made an unpack of N such replacements
 * cost N² (a hostile layer of 200k directories each replaced by a file). Each path here links
 * to its children, so dropping a subtree visits only that subtree: every path is added once and
 * dropped at most once, and the whole unpack stays linear.
 */
interface Node<V> {
  value: V | undefined;
  has: boolean;
  kids: Set<string> | undefined;
}

export class PathTree<V> {
  private readonly nodes = new Map<string, Node<V>>();
  /** Nodes visited while dropping subtrees: the work deleteTree did, for tests and benches. */
  steps = 0;

  has(rel: string): boolean {
    return this.nodes.get(rel)?.has === true;
  }

  get(rel: string): V | undefined {
    return this.nodes.get(rel)?.value;
  }

  set(rel: string, value: V): this {
    const n = this.node(rel);
    n.value = value;
    n.has = true;
    return this;
  }

  /** Drops the value at `rel` only; paths under it stay. */
  delete(rel: string): void {
    const n = this.nodes.get(rel);
    if (!n) return;
    n.value = undefined;
    n.has = false;
  }

  /** Drops `rel` and every path under it. */
  deleteTree(rel: string): void {
    if (!this.nodes.has(rel)) return;
    if (rel !== '') this.nodes.get(parentOf(rel))?.kids?.delete(rel);
    // A stack, not recursion: a layer's paths may be thousands of levels deep.
    const stack = [rel];
    for (let p = stack.pop(); p !== undefined; p = stack.pop()) {
      const n = this.nodes.get(p);
      this.steps++;
      if (!n) continue;
      this.nodes.delete(p);
      if (n.kids) for (const k of n.kids) stack.push(k);
    }
  }

  /** Paths that hold a value, with it. */
  *entries(): IterableIterator<[string, V]> {
    for (const [rel, n] of this.nodes) if (n.has) yield [rel, n.value as V];
  }

  /** The node at `rel`, made (with any missing parents) if absent. */
  private node(rel: string): Node<V> {
    let n = this.nodes.get(rel);
    if (n) return n;
    n = { value: undefined, has: false, kids: undefined };
    this.nodes.set(rel, n);
    let child = rel;
    while (child !== '') {
      const parent = parentOf(child);
      let p = this.nodes.get(parent);
      const made = p === undefined;
      if (!p) {
        p = { value: undefined, has: false, kids: undefined };
        this.nodes.set(parent, p);
      }
      (p.kids ??= new Set()).add(child);
      if (!made) break;
      child = parent;
    }
    return n;
  }
}

function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}
