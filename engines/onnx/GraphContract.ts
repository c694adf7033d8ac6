import type { TensorDType } from './TensorData.ts';

/**
 * A graph's expected signature and the checker that compares it with what a loaded model declares.
 * Pure logic: no ONNX Runtime here (OnnxModel feeds it the session metadata).
 */

/**
 * One axis: a number is a fixed size; `{ dynamic }` must be symbolic in the graph (batch, frames);
 * `{ size }` is any size, fixed or symbolic, and must be the same wherever the same name appears; 'any' is unchecked.
 */
export type DimSpec = number | { dynamic: string } | { size: string } | 'any';

/** Element types an input or output may have; 'float' means float32 or float16, the same for the whole graph. */
export type DTypeSpec = 'float' | readonly TensorDType[];

/** One named input or output. */
export interface TensorSpec {
  name: string;
  dtype: DTypeSpec;
  dims: readonly DimSpec[];
  /** What the tensor holds, units and value range (for READMEs and messages). */
  doc?: string;
}

/** A family of inputs or outputs sharing a name prefix (e.g. one per UNet scale), at least `min` of them. */
export interface TensorGroupSpec {
  prefix: string;
  dtype: DTypeSpec;
  /** Axis specs; the group's `{ size }` names are bound per member, not shared. */
  dims: readonly DimSpec[];
  min: number;
  doc?: string;
}

/** Expected signature of one ONNX graph. */
export interface GraphContract {
  /** Graph role, e.g. 'denoise_unet'. */
  name: string;
  inputs: readonly TensorSpec[];
  outputs: readonly TensorSpec[];
  inputGroups?: readonly TensorGroupSpec[];
  outputGroups?: readonly TensorGroupSpec[];
}

/** Type and shape of one graph input or output as the runtime reports it (strings are symbolic axes). */
export interface ValueMeta {
  name: string;
  type: string;
  shape: readonly (number | string)[];
}

/** What a passed check learned about the graph. */
export interface ContractMatch {
  /** Float element type of the graph, or undefined when it has no float tensors in the contract. */
  floatType: 'float32' | 'float16' | undefined;
  /** Value of each `{ size }` name: a number, or the symbol when the graph leaves it dynamic. */
  sizes: Record<string, number | string>;
  /** Members of each group, by prefix, sorted by name. */
  groups: Record<string, ValueMeta[]>;
}

/** A graph does not match its contract; `problems` lists every mismatch. */
export class ContractError extends Error {
  override name = 'ContractError';
  constructor(
    readonly graph: string,
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`ONNX graph does not match the ${graph} contract [file:${file}]: ${problems.join('; ')}`);
  }
}

/** Render a shape for messages: `[batch, 3, 512, 512]`. */
export function formatShape(dims: readonly (DimSpec | number | string)[]): string {
  return `[${dims.map((d) => (typeof d === 'number' || typeof d === 'string' ? String(d) : 'dynamic' in d ? `${d.dynamic}*` : d.size)).join(', ')}]`;
}

function formatDType(d: DTypeSpec): string {
  return d === 'float' ? 'float32|float16' : d.join('|');
}

/** Compare a graph's declared inputs/outputs with `contract`; throws one ContractError naming every mismatch. */
export function checkGraphContract(contract: GraphContract, meta: { inputs: readonly ValueMeta[]; outputs: readonly ValueMeta[] }, file: string): ContractMatch {
  const problems: string[] = [];
  const sizes: Record<string, number | string> = {};
  const groups: Record<string, ValueMeta[]> = {};
  let floatType: 'float32' | 'float16' | undefined;

  const checkDType = (where: string, spec: DTypeSpec, found: string): void => {
    if (spec === 'float') {
      if (found !== 'float32' && found !== 'float16') {
        problems.push(`${where} dtype: expected float32|float16, found ${found}`);
      } else if (floatType === undefined) {
        floatType = found;
      } else if (floatType !== found) {
        problems.push(`${where} dtype: expected ${floatType} like the rest of the graph, found ${found}`);
      }
    } else if (!spec.includes(found as TensorDType)) {
      problems.push(`${where} dtype: expected ${formatDType(spec)}, found ${found}`);
    }
  };

  const checkDims = (where: string, spec: readonly DimSpec[], found: readonly (number | string)[], local: Record<string, number | string>): void => {
    if (found.length !== spec.length) {
      problems.push(`${where} shape: expected rank ${spec.length} ${formatShape(spec)}, found rank ${found.length} ${formatShape(found)}`);
      return;
    }
    spec.forEach((s, i) => {
      const f = found[i]!;
      if (s === 'any') return;
      if (typeof s === 'number') {
        if (f !== s) problems.push(`${where} axis ${i}: expected ${s}, found ${f} (shape ${formatShape(found)})`);
      } else if ('dynamic' in s) {
        if (typeof f === 'number' && f > 0) problems.push(`${where} axis ${i} (${s.dynamic}): expected a dynamic axis, found fixed ${f}`);
      } else {
        const prev = local[s.size];
        if (prev === undefined) local[s.size] = f;
        else if (prev !== f) problems.push(`${where} axis ${i} (${s.size}): expected ${prev} as elsewhere in the graph, found ${f}`);
      }
    });
  };

  const side = (kind: 'input' | 'output', specs: readonly TensorSpec[], groupSpecs: readonly TensorGroupSpec[], found: readonly ValueMeta[]): void => {
    const byName = new Map(found.map((m) => [m.name, m]));
    const claimed = new Set<string>();
    for (const spec of specs) {
      const m = byName.get(spec.name);
      if (!m) {
        problems.push(`missing ${kind} '${spec.name}' ${formatDType(spec.dtype)} ${formatShape(spec.dims)} (found ${kind}s: ${found.map((f) => f.name).join(', ') || 'none'})`);
        continue;
      }
      claimed.add(m.name);
      checkDType(`${kind} '${m.name}'`, spec.dtype, m.type);
      checkDims(`${kind} '${m.name}'`, spec.dims, m.shape, sizes);
    }
    for (const g of groupSpecs) {
      const members = found.filter((m) => !claimed.has(m.name) && m.name.startsWith(g.prefix)).sort((a, b) => (a.name < b.name ? -1 : 1));
      if (members.length < g.min) problems.push(`expected at least ${g.min} ${kind}(s) named '${g.prefix}*', found ${members.length}`);
      for (const m of members) {
        claimed.add(m.name);
        checkDType(`${kind} '${m.name}'`, g.dtype, m.type);
        checkDims(`${kind} '${m.name}'`, g.dims, m.shape, {});
      }
      groups[g.prefix] = members;
    }
    for (const m of found) if (!claimed.has(m.name)) problems.push(`unexpected ${kind} '${m.name}' ${m.type} ${formatShape(m.shape)}`);
  };

  side('input', contract.inputs, contract.inputGroups ?? [], meta.inputs);
  side('output', contract.outputs, contract.outputGroups ?? [], meta.outputs);
  if (problems.length) throw new ContractError(contract.name, file, problems);
  return { floatType, sizes, groups };
}
