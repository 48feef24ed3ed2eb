/**
 * docker's long form `--mount type=bind,source=…,target=…[,readonly]` and
 * `--mount type=tmpfs,target=…[,tmpfs-size=…][,tmpfs-mode=…]`: the same mounts -v and --tmpfs make.
 */
import { FluxError } from '../errors.js';
import type { TmpfsSpec } from '../sandbox/plan.js';
import { tmpfsSpec } from './tmpfs-options.js';
import { containerPath, hostPath, volumeOptions, type VolumeRequest } from './volume-options.js';

const HINT = 'Write --mount type=bind,source=/host/path,target=/path[,readonly] or --mount type=tmpfs,target=/path[,tmpfs-size=64m].';

const bad = (spec: string, why: string) => new FluxError('BAD_MOUNT', `invalid --mount "${spec}": ${why}.`, { hint: HINT, exitCode: 125 });

const TRUE = new Set(['', 'true', '1']);
const FALSE = new Set(['false', '0']);

export type MountRequest = { kind: 'bind'; volume: VolumeRequest } | { kind: 'tmpfs'; tmpfs: TmpfsSpec };

export function parseMount(spec: string, cwd = process.cwd()): MountRequest {
  const fields = new Map<string, string>();
  for (const part of spec.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? '' : part.slice(eq + 1);
    if (fields.has(key)) throw bad(spec, `"${key}" is given twice`);
    fields.set(key, value);
  }
  const take = (...names: string[]): string | undefined => {
    let v: string | undefined;
    for (const n of names) {
      if (fields.has(n)) {
        v = fields.get(n);
        fields.delete(n);
      }
    }
    return v;
  };
  const flag = (...names: string[]): boolean => {
    const v = take(...names);
    if (v === undefined || FALSE.has(v)) return false;
    if (TRUE.has(v)) return true;
    throw bad(spec, `"${v}" is not true or false`);
  };
  const type = take('type') ?? 'volume';
  const target = take('target', 'destination', 'dst');
  if (!target) throw bad(spec, 'the target is missing');
  const readOnly = flag('readonly', 'ro');
  const what = `--mount ${spec}`;
  let out: MountRequest;
  if (type === 'bind') {
    const source = take('source', 'src');
    if (!source) throw bad(spec, 'the source is missing');
    const relabel = take('relabel');
    const propagation = take('bind-propagation');
    if (propagation !== undefined) volumeOptions(propagation, spec);
    const opts = volumeOptions([readOnly ? 'ro' : 'rw', ...(relabel === 'shared' ? ['z'] : relabel === 'private' ? ['Z'] : []), ...(flag('U', 'u', 'chown') ? ['U'] : [])].join(','), spec);
    out = { kind: 'bind', volume: { host: hostPath(source, what, cwd), container: containerPath(target, what), ...opts } };
  } else if (type === 'tmpfs') {
    const size = take('tmpfs-size');
    const mode = take('tmpfs-mode');
    const options = [...(size !== undefined ? [`size=${size}`] : []), ...(mode !== undefined ? [`mode=${mode}`] : []), ...(readOnly ? ['ro'] : [])];
    out = { kind: 'tmpfs', tmpfs: tmpfsSpec(target, options, what) };
  } else if (type === 'volume') {
    throw new FluxError('BAD_MOUNT', `--mount ${spec} asks for a named volume, which flux does not have.`, { hint: 'Use type=bind with a host directory as source.', exitCode: 125 });
  } else {
    throw bad(spec, `type "${type}" is not bind or tmpfs`);
  }
  const left = [...fields.keys()];
  if (left.length > 0) throw bad(spec, `"${left[0]}" is not an option of type=${type}`);
  return out;
}
