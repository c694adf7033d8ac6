import onnxProto from 'onnx-proto';
import { Prng } from '../motion/prng.ts';
import { elementCount } from './TensorData.ts';

const { onnx } = onnxProto;

/**
 * Builds small ONNX graphs in TypeScript (tests, benches, contract fixtures). Weights come from a
 * seeded PRNG, so equal seeds give byte-equal models. Uses onnx-proto (a devDependency): not for
 * the serving path.
 */

/** Element types the builder declares for graph inputs and outputs. */
export type BuilderDType = 'float32' | 'float16' | 'int64';

/** Axis of a declared input/output: a size or a symbolic (dynamic) name. */
export type BuilderDim = number | string;

/** Attribute value: integer, integers, string, or `{ f }` / `{ floats }` for floating-point attributes. */
export type AttrValue = number | readonly number[] | string | { f: number } | { floats: readonly number[] };

const ELEM: Record<BuilderDType, number> = { float32: onnx.TensorProto.DataType.FLOAT, float16: onnx.TensorProto.DataType.FLOAT16, int64: onnx.TensorProto.DataType.INT64 };

function valueInfo(name: string, type: BuilderDType, dims: readonly BuilderDim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: ELEM[type], shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: [...(v as number[])] };
  if ('f' in (v as object)) return { name, type: T.FLOAT, f: (v as { f: number }).f };
  return { name, type: T.FLOATS, floats: [...(v as { floats: number[] }).floats] };
}

/** Accumulates nodes, initializers, inputs and outputs of one graph. */
export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly inits: onnxProto.onnx.ITensorProto[] = [];
  private readonly ins: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly rng: Prng;
  private counter = 0;

  /** `seed` drives every random initializer; `opset` of the default ONNX domain. */
  constructor(
    readonly name: string,
    seed: number,
    readonly opset = 17,
  ) {
    this.rng = new Prng(seed);
  }

  /** A fresh value name with `prefix`. */
  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  /** Declare a graph input; returns its name. */
  input(name: string, type: BuilderDType, dims: readonly BuilderDim[]): string {
    this.ins.push(valueInfo(name, type, dims));
    return name;
  }

  /** Declare a graph output `name` carrying value `from` (an Identity node connects them). */
  output(name: string, type: BuilderDType, dims: readonly BuilderDim[], from: string): void {
    this.nodes.push({ opType: 'Identity', input: [from], output: [name], name: `out_${name}` });
    this.outs.push(valueInfo(name, type, dims));
  }

  /** A float32 initializer with the given values. */
  floats(prefix: string, dims: readonly number[], values: ArrayLike<number>): string {
    if (values.length !== elementCount(dims)) throw new TypeError(`initializer ${prefix}: ${values.length} values for dims [${dims.join(', ')}]`);
    const name = this.fresh(prefix);
    const f = Float32Array.from(values);
    this.inits.push({ name, dims: [...dims], dataType: ELEM.float32, rawData: new Uint8Array(f.buffer) });
    return name;
  }

  /** An int64 initializer (shapes, axes, perms). */
  ints(prefix: string, values: readonly number[]): string {
    const name = this.fresh(prefix);
    const b = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.inits.push({ name, dims: [values.length], dataType: ELEM.int64, rawData: new Uint8Array(b.buffer) });
    return name;
  }

  /** A float32 initializer of normal values with standard deviation `std` (seeded). */
  randn(prefix: string, dims: readonly number[], std: number): string {
    const n = elementCount(dims);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = this.rng.gaussian() * std;
    return this.floats(prefix, dims, v);
  }

  /** Append a node; returns its output names (`nOut` of them). */
  node(opType: string, inputs: readonly string[], attrs: Readonly<Record<string, AttrValue>> = {}, nOut = 1): string[] {
    const outputs = Array.from({ length: nOut }, () => this.fresh(opType.toLowerCase()));
    this.nodes.push({ opType, input: [...inputs], output: outputs, name: this.fresh(`n_${opType}`), attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
    return outputs;
  }

  /** Append a single-output node; returns its output name. */
  op(opType: string, inputs: readonly string[], attrs: Readonly<Record<string, AttrValue>> = {}): string {
    return this.node(opType, inputs, attrs, 1)[0]!;
  }

  /**
   * Convolution with seeded He-scaled weights and zero bias. `kernel` has one size per spatial axis
   * (2 for NCHW, 3 for NCDHW); `same` padding for odd kernels unless `pads` is given.
   */
  conv(x: string, cin: number, cout: number, kernel: readonly number[], opts: { strides?: readonly number[]; pads?: readonly number[]; gain?: number } = {}): string {
    const fanIn = cin * kernel.reduce((a, b) => a * b, 1);
    const w = this.randn('conv_w', [cout, cin, ...kernel], (opts.gain ?? 1) * Math.sqrt(2 / fanIn));
    const b = this.floats('conv_b', [cout], new Float32Array(cout));
    const pads = opts.pads ?? [...kernel.map((k) => (k - 1) >> 1), ...kernel.map((k) => (k - 1) >> 1)];
    return this.op('Conv', [x, w, b], { kernel_shape: kernel, pads, strides: opts.strides ?? kernel.map(() => 1) });
  }

  /** x @ W (+ b): last axis cin -> cout, seeded weights with std 1/sqrt(cin). */
  linear(x: string, cin: number, cout: number, bias = false): string {
    const y = this.op('MatMul', [x, this.randn('lin_w', [cin, cout], 1 / Math.sqrt(cin))]);
    return bias ? this.op('Add', [y, this.floats('lin_b', [cout], new Float32Array(cout))]) : y;
  }

  /** x * sigmoid(x). */
  silu(x: string): string {
    return this.op('Mul', [x, this.op('Sigmoid', [x])]);
  }

  /** Reshape to `shape` (0 copies the input axis, -1 infers one). */
  reshape(x: string, shape: readonly number[]): string {
    return this.op('Reshape', [x, this.ints('shape', shape)]);
  }

  /** Permute axes. */
  transpose(x: string, perm: readonly number[]): string {
    return this.op('Transpose', [x], { perm });
  }

  /** Insert size-1 axes. */
  unsqueeze(x: string, axes: readonly number[]): string {
    return this.op('Unsqueeze', [x, this.ints('axes', axes)]);
  }

  /** Cast to float32 (1) or float16 (10). */
  cast(x: string, to: 'float32' | 'float16'): string {
    return this.op('Cast', [x], { to: ELEM[to] });
  }

  /**
   * Single-head attention on rank-4 values: queries `q` [A, B, Nq, dq] attend to `kv` [A|1, B|1, Nk, dk]
   * (broadcast over the two leading axes); projections to `dim`, output projected back to dq. Returns [..., Nq, dq].
   */
  attention(q: string, dq: number, kv: string, dk: number, dim: number): string {
    const Q = this.linear(q, dq, dim);
    const K = this.linear(kv, dk, dim);
    const V = this.linear(kv, dk, dim);
    const rank = 4;
    const perm = Array.from({ length: rank }, (_, i) => i);
    [perm[rank - 1], perm[rank - 2]] = [perm[rank - 2]!, perm[rank - 1]!];
    const scores = this.op('Mul', [this.op('MatMul', [Q, this.transpose(K, perm)]), this.floats('scale', [], [1 / Math.sqrt(dim)])]);
    const attn = this.op('Softmax', [scores], { axis: -1 });
    return this.linear(this.op('MatMul', [attn, V]), dim, dq);
  }

  /** Serialized ModelProto (IR 8). */
  toBytes(): Uint8Array {
    const graph = onnx.GraphProto.create({ name: this.name, node: this.nodes, initializer: this.inits, input: this.ins, output: this.outs });
    const model = onnx.ModelProto.create({ irVersion: 8, producerName: 'aniportrait-live graphBuilder', opsetImport: [{ domain: '', version: this.opset }], graph });
    return onnx.ModelProto.encode(model).finish();
  }
}
