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
  error: { code: string; message: string } | null;
  /** Where this worker keeps shards (on the answers of ensureModel/status/checkUpdate/remove). */
  storage?: 'opfs' | 'indexeddb';
}

/** An error reported by the tessera service worker; `code` is stable. */
export class TesseraError extends Error {
  constructor(code: string, message: string);
  code: string;
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
    opts?: { onProgress?: (s: ModelStatus) => void; signal?: AbortSignal; files?: string[] },
  ): Promise<ModelStatus>;
  status(name: string): Promise<ModelStatus>;
  remove(name: string): Promise<void>;
  checkUpdate(name: string): Promise<ModelStatus>;
  setToken(token: string): Promise<void>;
  /** Broadcast progress of every model; returns the unsubscribe function. */
  onProgress(listener: (s: ModelStatus) => void): () => void;
};
