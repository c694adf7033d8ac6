/**
 * Device names of the config -> ONNX Runtime execution providers, tried in order.
 * Pure logic; OnnxModel does the loading.
 */

/** Devices a config may name. */
export const DEVICES = Object.freeze(['tensorrt', 'cuda', 'cpu', 'auto'] as const);

/** A config device name. */
export type Device = (typeof DEVICES)[number];

/** A concrete execution provider (what 'auto' resolves to). */
export type ProviderName = 'tensorrt' | 'cuda' | 'cpu';

/** TensorRT settings from the config. */
export interface TensorRtSettings {
  /** Build fp16 engines. */
  fp16: boolean;
  /** Folder where built engines are cached across restarts; undefined = no cache. */
  engineCacheDir?: string;
  /** Builder workspace limit, bytes. */
  workspaceBytes: number;
  /** GPU ordinal. */
  deviceId: number;
}

/** Defaults for TensorRT: fp16, no engine cache, 4 GiB workspace, GPU 0. */
export const DEFAULT_TENSORRT: TensorRtSettings = Object.freeze({ fp16: true, workspaceBytes: 4 * 2 ** 30, deviceId: 0 });

/** Shared libraries a GPU provider needs next to onnxruntime_binding.node (downloaded by the install flag). */
export const PROVIDER_LIBRARIES: Readonly<Record<Exclude<ProviderName, 'cpu'>, readonly string[]>> = Object.freeze({
  cuda: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'],
  tensorrt: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_tensorrt.so'],
});

/** How to get a provider's libraries onto a GPU host. */
export const PROVIDER_INSTALL_HINT =
  'install the GPU providers with `npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12` (needs CUDA 12, cuDNN 9 and, for tensorrt, TensorRT 10 libraries on LD_LIBRARY_PATH); there is no tensorrt-node-bindings package, TensorRT is reached through this provider';

/** Throw a TypeError naming the valid devices unless `device` is one. */
export function assertDevice(device: string): asserts device is Device {
  if (!(DEVICES as readonly string[]).includes(device)) {
    throw new TypeError(`unknown ONNX device '${device}' [valid: ${DEVICES.join(', ')}]`);
  }
}

/**
 * Providers to try, in order: the requested one, then (with `fallback`) the cheaper ones below it.
 * 'auto' always tries tensorrt, cuda, cpu.
 */
export function providerCandidates(device: string, fallback: boolean): ProviderName[] {
  assertDevice(device);
  const order: ProviderName[] = ['tensorrt', 'cuda', 'cpu'];
  if (device === 'auto') return order;
  const from = order.indexOf(device);
  return fallback ? order.slice(from) : [device];
}

/** The provider libraries from PROVIDER_LIBRARIES missing in `present` (file names found in the binding's folder). */
export function missingProviderLibraries(provider: ProviderName, present: ReadonlySet<string>): string[] {
  if (provider === 'cpu') return [];
  return PROVIDER_LIBRARIES[provider].filter((lib) => !present.has(lib));
}
