// Types of tessera-client.js.

/** Where a model stands. */
export type ModelState = 'absent' | 'checking' | 'downloading' | 'verifying' | 'ready' | 'error';

/** A model's status as the service worker reports it. */
export interface ModelStatus {
  model: string;
  state: ModelState;
  /** The version being served. */
  version: string | null;
  /** The version being downloaded, if any. */
  pendingVersion: string | null;
  bytesDone: number;
  bytesTotal: number;
  shardsDone: number;
  shardsTotal: number;
  /** Shards being downloaded right now. */
  shardsInFlight: number;
  /** Whether the download continued from bytes stored earlier. */
  resumed: boolean;
  error: { code: string; message: string; details?: QuotaDetails } | null;
  /** Present (true) on the `absent` status of a model the worker removed to make room for another download. */
  evicted?: true;
  /** Where this worker keeps shards (on the answers of ensureModel/status/checkUpdate/remove). */
  storage?: 'opfs' | 'indexeddb';
}

/** One stored version of a model, as `Tessera.storage()` lists it. */
export interface StoredModel {
  name: string;
  version: string;
  /** The version being served (false: an update or file-by-file download not switched to yet). */
  active: boolean;
  /** Bytes stored for this version only: what removing it frees. */
  bytes: number;
  /** Bytes stored that other stored models or versions use too. */
  sharedBytes: number;
  /** Bytes of this version not stored yet (an unfinished download). */
  missingBytes: number;
  /** When the worker last served a byte of the model, ms since the epoch (null: never). */
  lastUsed: number | null;
  /** Whether the browser granted this origin persistent storage. */
  persisted: boolean;
  backend: 'opfs' | 'indexeddb';
}

/** What `Tessera.storage()` reports. */
export interface StorageReport {
  /** Every stored model version, active ones first, by name. */
  models: StoredModel[];
  /** Bytes of all distinct stored shards the listed versions use. */
  bytes: number;
  /** The origin's usage and quota from navigator.storage.estimate() (null if unknown). */
  usage: number | null;
  quota: number | null;
  persisted: boolean;
  backend: 'opfs' | 'indexeddb';
}

/** What `Tessera.estimate(name)` answers: the cost of installing a model. */
export interface DownloadEstimate {
  model: string;
  /** The stored version (active, else pending), else the one the server publishes. */
  version: string;
  /** Bytes of the version (its distinct shards). */
  bytes: number;
  /** Bytes not stored yet. */
  missing: number;
  /** Seconds to download `missing` at the measured speed; 0 when nothing is missing, null before any download was measured. */
  etaSeconds: number | null;
  /** The measured download speed (median of recent shard downloads), null before any. */
  bytesPerSecond: number | null;
  /** Bytes the origin may still store (null if the browser does not say). */
  available: number | null;
}

/** The figures of a `quota` error: what the download lacked and what could be done about it. */
export interface QuotaDetails {
  /** Bytes the download still needed. */
  needed: number;
  /** Bytes the origin may still store (the browser's estimate). */
  available: number;
  /** Whether the browser granted persistent storage (not persisted: it may evict under pressure). */
  persisted: boolean;
  /** Bytes removing other stored models would free (they were not removed: not enough, or `"evict": "never"`). */
  freeable: number;
}

/** An error reported by the tessera service worker; `code` is stable. */
export class TesseraError extends Error {
  constructor(code: string, message: string, details?: QuotaDetails | null);
  code: string;
  /** Figures the app can act on (`quota`), else null. */
  details: QuotaDetails | null;
}

export const Tessera: {
  /**
   * Registers the module service worker; resolves once the page is controlled, rejects with
   * TesseraError('not-controlled') after `timeoutMs` (default 15000) if it never is.
   */
  register(
    swUrl?: string,
    options?: { scope?: string; timeoutMs?: number; prefix?: string },
  ): Promise<ServiceWorkerRegistration>;
  /** Resolves once `register` made the worker control the page: await it before fetching models. */
  ready: Promise<ServiceWorkerRegistration>;
  /**
   * Downloads and verifies a model (or only `files` of it); rejects with TesseraError(code).
   */
  ensureModel(
    name: string,
    opts?: {
      onProgress?: (s: ModelStatus) => void;
      signal?: AbortSignal;
      files?: string[];
      /** Ask the browser for persistent storage first (navigator.storage.persist(), only when not yet persisted). Default true. */
      persist?: boolean;
    },
  ): Promise<ModelStatus>;
  status(name: string): Promise<ModelStatus>;
  remove(name: string): Promise<void>;
  checkUpdate(name: string): Promise<ModelStatus>;
  /** Stored models and versions with their sizes, shared bytes and last use. */
  storage(): Promise<StorageReport>;
  /** Size of a model, bytes still to download and the time that takes at the measured speed. */
  estimate(name: string): Promise<DownloadEstimate>;
  setToken(token: string): Promise<void>;
  /** Broadcast progress of every model; returns the unsubscribe function. */
  onProgress(listener: (s: ModelStatus) => void): () => void;
};
