// Types for tessera-runtime.js.

/** Where requests run; see tessera_core::fallback::Policy. */
export type Policy = 'local-only' | 'prefer-local' | 'prefer-edge' | 'edge-only' | 'race' | 'auto';

/** Why an answer did not come from where the policy puts it first (stable codes). */
export type FallbackReason =
  | 'no-webgpu' | 'no-adapter' | 'limits-exceeded' | 'op-unsupported' | 'local-load-failed'
  | 'local-self-test-failed' | 'worker-crashed' | 'local-run-failed' | 'local-timeout'
  | 'webgpu-shader-compile-failed' | 'webgpu-validation-error' | 'webgpu-device-lost'
  | 'local-offline'
  | 'edge-unreachable' | 'edge-timeout' | 'edge-rejected'
  | 'offline' | 'edge-faster' | 'reprobe-edge';

/**
 * Codes of a local failure the browser's WebGPU reported for the model's session (in the
 * worker, after the session build and after each run): a WGSL shader it rejected, a validation
 * error, a lost device, memory exhausted, an internal failure. The error's message quotes the
 * browser's. The first three are also fallback reasons; the last two count as
 * 'local-run-failed'.
 */
export type WebgpuErrorCode =
  | 'webgpu-shader-compile-failed' | 'webgpu-validation-error' | 'webgpu-device-lost'
  | 'webgpu-out-of-memory' | 'webgpu-internal-error';

/**
 * The engine that computed an answer: in the browser wonnx on WebGPU or tract on the CPU (wasm);
 * on the edge tract natively or wonnx on wgpu (null from an edge older than the field).
 */
export type EngineName = 'wonnx-webgpu' | 'tract-wasm' | 'tract-native' | 'wonnx-wgpu';

/** Which engine runs models in the browser: 'auto' (default), or one forced. */
export type EnginePreference = 'auto' | 'webgpu' | 'cpu';

export type DType = 'float32' | 'int32' | 'int64';
export type TensorData = Float32Array | Int32Array | BigInt64Array;

export interface InputTensor {
  dtype: DType;
  shape: number[];
  /** Typed array (sent to the edge as base64) or plain numbers. */
  data: TensorData | number[];
}

export interface OutputTensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

export interface PublicKey {
  keyid: string;
  algorithm: 'ed25519';
  publicKey: string;
}

export interface RuntimeOptions {
  /** Origin of `tessera serve` (POST /v1/models/NAME/infer). */
  edgeUrl?: string;
  /** Default 'prefer-local'. */
  policy?: Policy;
  /** Bearer token for the edge. */
  token?: string;
  /** Keys trusted to sign manifests. */
  trustedKeys: PublicKey[];
  /** Distinct trusted signatures required (default 1). */
  threshold?: number;
  /** Where models are served (default '/models/'). */
  modelsBase?: string;
  /** Whether a service worker serves verified files (default: navigator.serviceWorker.controller). */
  controlled?: boolean;
  /** Per-attempt timeout (default 30000 ms). */
  timeoutMs?: number;
  /**
   * 'auto' (default): the CPU engine where WebGPU cannot run the model (no WebGPU or adapter,
   * limits, an operator such as Softmax), on a software adapter, or when wonnx fails to build
   * or pass its self-test at load; on a real GPU the engine a short calibration finds faster (cached per
   * model version and adapter). 'webgpu': WebGPU only. 'cpu': the CPU engine only.
   */
  engine?: EnginePreference;
  workerUrl?: string | URL;
  wasmUrl?: string | URL;
  /**
   * The CPU engine's `tessera_runtime_cpu.js` (default: beside the worker script), imported by
   * the worker only when a model is built on the CPU engine.
   */
  cpuUrl?: string | URL;
  /**
   * The WebGPU engine's `tessera_runtime_webgpu.js` (wonnx; default: beside the worker script),
   * imported by the worker only when a model is built on WebGPU.
   */
  webgpuUrl?: string | URL;
  /**
   * Testing only: build sessions for models whose operators are not verified in browsers
   * (normally refused with 'op-unsupported'), to observe how WebGPU fails them.
   */
  allowUnlistedOps?: boolean;
  /** Testing only: calibrate engines on a software adapter as on a GPU. */
  calibrateSoftwareAdapters?: boolean;
}

export interface Timings {
  queue: number;
  load: number;
  compute: number;
  network: number;
  total: number;
}

export interface RunResult {
  outputs: Record<string, OutputTensor>;
  source: 'local' | 'edge';
  engine: EngineName | null;
  fallbackReason?: FallbackReason;
  timings: Timings;
}

export interface LoadReport {
  model: string;
  version: string;
  inputs: { name: string; dtype: DType; shape: number[] }[];
  outputs: string[];
  fileBytes: number;
  source: 'service-worker' | 'shards';
  /** The engine the model runs on in this browser. */
  engine: 'wonnx-webgpu' | 'tract-wasm';
  /**
   * Why the CPU engine runs it, when it does: 'engine-cpu-requested', 'software-adapter',
   * 'calibrated-faster', 'webgpu-failed-calibration', or the code of what stopped WebGPU
   * ('no-webgpu', 'op-unsupported', 'webgpu-shader-compile-failed', …); null otherwise.
   */
  engineReason: string | null;
  /** The calibration that picked the engine (real GPUs): median ms per run of each engine. */
  calibration: { webgpuMs: number | null; cpuMs: number | null; picked: string; cached: boolean } | null;
  vectorsPassed: number;
  adapterIsFallback: boolean;
  /** Set when a newer published manifest was refused and the last accepted version loaded instead (no service worker). */
  refusedUpdate?: { code: string; message: string };
  /** `fetchMs` includes checking every shard and the whole file against the signed manifest. */
  timings: { manifestMs: number; fetchMs: number; sessionMs: number; selfTestMs: number };
}

export interface LatencyStats {
  emaMs: number | null;
  lastMs: number | null;
  minMs: number | null;
  answers: number;
  failures: number;
  lastAtMs: number | null;
}

export interface ModelStats {
  /** 'unknown', 'healthy' or a local fault code. */
  health: string;
  local: LatencyStats;
  edge: LatencyStats;
}

export declare class TesseraRuntimeError extends Error {
  /** Stable code: a FallbackReason, a WebgpuErrorCode, a caller's mistake (tensor-shape-mismatch, …). */
  readonly code: string;
  /** The fallback fault this error counts as; null for the caller's own mistakes. */
  failure: string | null;
  /** The router's reason when no side could answer. */
  reason: FallbackReason | null;
}

export declare class TesseraRuntime {
  static create(options: RuntimeOptions): Promise<TesseraRuntime>;
  /**
   * WebGPU in the worker; answers once the worker has loaded the engine module its models will
   * most likely use (so a page can go offline after it).
   */
  capabilities(): Promise<{ isFallbackAdapter: boolean; limits: Record<string, number> }>;
  load(name: string): Promise<LoadReport>;
  run(
    name: string,
    inputs: Record<string, InputTensor>,
    options?: { policy?: Policy; timeoutMs?: number; signal?: AbortSignal },
  ): Promise<RunResult>;
  stats(name: string): ModelStats;
  close(): void;
}
