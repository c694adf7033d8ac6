import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { checkGraphContract, formatShape, type ContractMatch, type GraphContract, type ValueMeta } from './GraphContract.ts';
import { DEFAULT_TENSORRT, missingProviderLibraries, PROVIDER_INSTALL_HINT, providerCandidates, type Device, type ProviderName, type TensorRtSettings } from './executionProviders.ts';
import { elementCount, type TensorData, type TensorDType } from './TensorData.ts';

/** Options of loadOnnxModel. */
export interface OnnxModelOptions {
  /** Execution device: tensorrt, cuda, cpu or auto (best available). Default cpu. */
  device?: Device;
  /** When the device's provider cannot start, try the next cheaper one (tensorrt -> cuda -> cpu). Default false. */
  fallback?: boolean;
  /** TensorRT settings (see README: onnxruntime-node 1.30 forwards only deviceId). */
  tensorrt?: Partial<TensorRtSettings>;
  /** Contract the graph must satisfy; checked once at load. */
  contract?: GraphContract;
  /** Threads inside one operator on the CPU provider; 0 = ONNX Runtime's default. */
  intraOpThreads?: number;
  /** Name used in messages when loading from bytes. */
  label?: string;
}

/** Why a candidate provider was skipped, for logs and /metrics. */
export interface ProviderAttempt {
  provider: ProviderName;
  error: string;
}

/** Folder holding onnxruntime_binding.node and, on GPU hosts, the provider libraries. */
function bindingDir(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
    const dir = join(dirname(pkg), 'bin', `napi-v6`, process.platform, process.arch);
    return existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

function sessionProviders(provider: ProviderName, trt: TensorRtSettings): ort.InferenceSession.ExecutionProviderConfig[] {
  if (provider === 'cpu') return ['cpu'];
  if (provider === 'cuda') return [{ name: 'cuda', deviceId: trt.deviceId }, 'cpu'];
  // onnxruntime-node <= 1.30 reads only `deviceId` here; the trt_* keys are passed for bindings that parse them.
  const config = {
    name: 'tensorrt' as const,
    deviceId: trt.deviceId,
    trt_fp16_enable: trt.fp16,
    trt_max_workspace_size: trt.workspaceBytes,
    ...(trt.engineCacheDir ? { trt_engine_cache_enable: true, trt_engine_cache_path: trt.engineCacheDir } : {}),
  };
  return [config, { name: 'cuda', deviceId: trt.deviceId }, 'cpu'];
}

function toOrt(t: TensorData): ort.Tensor {
  return new ort.Tensor(t.type, t.data, t.dims);
}

function fromOrt(v: ort.OnnxValue, name: string): TensorData {
  const t = v as ort.Tensor;
  const type = t.type as TensorDType;
  if (!['float32', 'float16', 'int64', 'int32', 'uint8', 'bool'].includes(type)) throw new TypeError(`unsupported output type ${t.type} [output:${name}]`);
  // ORT gives float16 as Uint16Array bit patterns in Node; bool as Uint8Array.
  return { type, data: t.data as TensorData['data'], dims: [...t.dims] };
}

/**
 * One ONNX graph in an ONNX Runtime session on a chosen execution provider, checked against its
 * contract at load and its inputs checked before every run. The only class that touches ONNX Runtime.
 */
export class OnnxModel {
  private session: ort.InferenceSession | undefined;
  /** Runs not yet finished: releasing the session under one makes its completion throw where nothing can catch it (abort). */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly inputMap: Map<string, ValueMeta>;

  private constructor(
    session: ort.InferenceSession,
    /** Path or label of the graph, for messages. */
    readonly file: string,
    /** Provider the session runs on. */
    readonly provider: ProviderName,
    /** Providers tried before `provider` and why each failed (empty when the first one started). */
    readonly skipped: readonly ProviderAttempt[],
    /** Contract facts (float type, sizes, groups), or undefined without a contract. */
    readonly contract: ContractMatch | undefined,
    /** Declared inputs (symbolic axes as strings). */
    readonly inputs: readonly ValueMeta[],
    /** Declared outputs (symbolic axes as strings). */
    readonly outputs: readonly ValueMeta[],
    /** Notes about settings that could not be applied. */
    readonly warnings: readonly string[],
  ) {
    this.session = session;
    this.inputMap = new Map(inputs.map((m) => [m.name, m]));
  }

  /** Input names, in graph order. */
  get inputNames(): string[] {
    return this.inputs.map((m) => m.name);
  }

  /** Output names, in graph order. */
  get outputNames(): string[] {
    return this.outputs.map((m) => m.name);
  }

  /** Load `source` (a file path or the model bytes) on the first provider of the device's candidates that starts. */
  static async load(source: string | Uint8Array, options: OnnxModelOptions = {}): Promise<OnnxModel> {
    const { device = 'cpu', fallback = false, contract, intraOpThreads = 0 } = options;
    const file = typeof source === 'string' ? source : (options.label ?? `<${source.byteLength} bytes>`);
    const trt: TensorRtSettings = { ...DEFAULT_TENSORRT, ...options.tensorrt };
    if (typeof source === 'string' && !existsSync(source)) throw new Error(`ONNX model file not found [file:${source}]`);
    const candidates = providerCandidates(device, fallback);
    const dir = bindingDir();
    const present = new Set(dir ? readdirSync(dir) : []);
    const skipped: ProviderAttempt[] = [];
    for (const provider of candidates) {
      const missing = missingProviderLibraries(provider, present);
      if (missing.length) {
        skipped.push({ provider, error: `provider libraries missing in ${dir ?? 'onnxruntime-node/bin'}: ${missing.join(', ')}` });
        continue;
      }
      let session: ort.InferenceSession;
      try {
        const opts: ort.InferenceSession.SessionOptions = { executionProviders: sessionProviders(provider, trt), graphOptimizationLevel: 'all', logSeverityLevel: 3 };
        if (intraOpThreads > 0) opts.intraOpNumThreads = intraOpThreads;
        session = typeof source === 'string' ? await ort.InferenceSession.create(source, opts) : await ort.InferenceSession.create(source, opts);
      } catch (err) {
        skipped.push({ provider, error: (err as Error).message });
        continue;
      }
      const inputs = session.inputMetadata.map(toMeta);
      const outputs = session.outputMetadata.map(toMeta);
      let match: ContractMatch | undefined;
      try {
        match = contract ? checkGraphContract(contract, { inputs, outputs }, file) : undefined;
      } catch (err) {
        await session.release();
        throw err;
      }
      const warnings: string[] = [];
      if (provider === 'tensorrt') {
        warnings.push('onnxruntime-node passes only deviceId to the TensorRT provider: fp16, engine cache and workspace settings apply only through a binding that forwards trt_* options; export fp16 graphs to get fp16 engines');
      }
      return new OnnxModel(session, file, provider, skipped, match, inputs, outputs, warnings);
    }
    const tried = skipped.map((s) => `${s.provider}: ${s.error}`).join(' | ');
    const hint = candidates.some((c) => c !== 'cpu') ? `; ${PROVIDER_INSTALL_HINT}` : '';
    const advice = !fallback && device !== 'cpu' && device !== 'auto' ? '; set fallback: true to try cheaper providers' : '';
    throw new Error(`no execution provider could run the model [file:${file}, device:${device}, tried: ${tried}]${hint}${advice}`);
  }

  /**
   * Throw one TypeError listing every problem with `feeds`: missing or unknown names, wrong dtype,
   * wrong rank, a fixed axis of the wrong size, data length not matching dims.
   */
  validateInputs(feeds: Readonly<Record<string, TensorData>>): void {
    const problems: string[] = [];
    for (const m of this.inputs) {
      const t = feeds[m.name];
      if (!t) {
        problems.push(`missing input '${m.name}' ${m.type} ${formatShape(m.shape)}`);
        continue;
      }
      if (t.type !== m.type) problems.push(`input '${m.name}' dtype: expected ${m.type}, found ${t.type}`);
      if (t.dims.length !== m.shape.length) {
        problems.push(`input '${m.name}' rank: expected ${m.shape.length} ${formatShape(m.shape)}, found ${t.dims.length} ${formatShape(t.dims)}`);
      } else {
        m.shape.forEach((d, i) => {
          if (typeof d === 'number' && d > 0 && t.dims[i] !== d) problems.push(`input '${m.name}' axis ${i}: expected ${d}, found ${t.dims[i]} (shape ${formatShape(t.dims)})`);
        });
      }
      if (t.data.length !== elementCount(t.dims)) problems.push(`input '${m.name}' has ${t.data.length} values for shape ${formatShape(t.dims)}`);
    }
    for (const name of Object.keys(feeds)) if (!this.inputMap.has(name)) problems.push(`unknown input '${name}'`);
    if (problems.length) throw new TypeError(`invalid inputs [file:${this.file}]: ${problems.join('; ')}`);
  }

  /** Validate `feeds`, run the graph, and return every output by name. Async: the work runs off the JS thread. */
  async run(feeds: Readonly<Record<string, TensorData>>): Promise<Record<string, TensorData>> {
    const session = this.session;
    if (!session) throw new Error(`ONNX model is disposed [file:${this.file}]`);
    this.validateInputs(feeds);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const m of this.inputs) ortFeeds[m.name] = toOrt(feeds[m.name]!);
    let results: ort.InferenceSession.ReturnType;
    const running = session.run(ortFeeds);
    this.inFlight.add(running);
    try {
      results = await running;
    } catch (err) {
      const shapes = this.inputs.map((m) => `${m.name}:${formatShape(feeds[m.name]!.dims)}`).join(', ');
      throw new Error(`ONNX run failed [file:${this.file}, provider:${this.provider}, inputs:${shapes}]: ${(err as Error).message}`, { cause: err });
    } finally {
      this.inFlight.delete(running);
    }
    const out: Record<string, TensorData> = {};
    for (const name of this.outputNames) out[name] = fromOrt(results[name]!, name);
    return out;
  }

  /** Release the session once the runs in flight have finished; later runs throw. Idempotent. */
  async dispose(): Promise<void> {
    const s = this.session;
    if (!s) return;
    this.session = undefined;
    await Promise.allSettled([...this.inFlight]);
    await s.release();
  }
}

function toMeta(m: ort.InferenceSession.ValueMetadata): ValueMeta {
  if (!m.isTensor) return { name: m.name, type: 'non-tensor', shape: [] };
  return { name: m.name, type: m.type, shape: [...m.shape] };
}

/** Load one ONNX graph; see OnnxModel.load. */
export function loadOnnxModel(source: string | Uint8Array, options: OnnxModelOptions = {}): Promise<OnnxModel> {
  return OnnxModel.load(source, options);
}
