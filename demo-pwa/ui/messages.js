// Human messages for tessera's stable error codes (service worker, core, runtime and edge) and
// for the runtime's fallback reasons. One map, so every part of the app words a code the same way.

/** Error code → what happened, in words a traveller understands. */
const ERRORS = {
  // Storage and download (service worker)
  quota: 'There isn\u2019t enough free storage on this device for the model. Free some space (or remove other offline data) and try again.',
  network: 'The network is unreachable and nothing verified is stored yet. Reconnect and try again.',
  'model-not-found': 'The server doesn\u2019t publish this model (no signed manifest was found).',
  'file-not-found': 'The model\u2019s signed manifest doesn\u2019t list the file that was asked for.',
  'store-failed': 'The browser\u2019s storage (IndexedDB) refused to save the model. Private windows and full disks can cause this.',
  'config-invalid': 'The app\u2019s tessera configuration is invalid; the model can\u2019t be downloaded.',
  'auth-failed': 'The server refused our credentials, even after refreshing them.',
  'download-retries-exhausted': 'The download kept failing after several retries. It will resume where it stopped when you retry.',
  'download-interrupted': 'The download was interrupted. It will resume where it stopped.',
  'range-ignored': 'The server ignored a resume request (sent the whole file instead of the missing part); nothing was stored from it.',
  'range-unexpected-status': 'The server answered a resume request unexpectedly; nothing was stored from it.',
  'content-range-mismatch': 'The server sent a different part of the file than the one asked for; it was discarded.',
  'content-range-malformed': 'The server\u2019s answer to a resume request was malformed; it was discarded.',
  'content-range-total-mismatch': 'The server reported a different file size than the signed manifest; the data was discarded.',
  'content-length-mismatch': 'The server sent more or fewer bytes than announced; the data was discarded.',
  'body-truncated': 'A download was cut short. It will resume where it stopped.',
  'body-too-long': 'The server sent more bytes than the signed manifest allows; the data was discarded.',
  // Integrity
  'shard-hash-mismatch': 'A downloaded part of the model was corrupted or tampered with; it was discarded and was never used. Retry to download it again.',
  'file-hash-mismatch': 'The assembled model file doesn\u2019t match its signed fingerprint; it was discarded and was never used.',
  'file-size-mismatch': 'The model file has a different size than its signed manifest says; it was discarded.',
  'shard-size-mismatch': 'A downloaded part of the model has the wrong size; it was discarded.',
  'shard-missing': 'A part of the model is missing on the server.',
  'shard-not-found': 'A part of the model is missing on the server.',
  'model-file-corrupt': 'The model file failed its integrity check and was not used.',
  'shard-corrupt': 'The edge server\u2019s copy of the model failed its integrity check, so the edge refused to run it.',
  // Signed manifests
  'manifest-signature-invalid': 'The model\u2019s manifest isn\u2019t signed by a trusted key, so it was refused. The previously verified version (if any) keeps working.',
  'manifest-unknown-key': 'The model was signed by a key this app doesn\u2019t trust, so it was refused.',
  'manifest-threshold-not-met': 'The model doesn\u2019t carry enough trusted signatures, so it was refused.',
  'manifest-rollback': 'The server offered an older version than the one already verified here (a possible downgrade attack); it was refused and the current version keeps working.',
  'manifest-expired': 'The model\u2019s signed manifest has expired, so it was refused. The publisher needs to re-sign it.',
  'manifest-entry-missing': 'The model\u2019s signed manifest doesn\u2019t name a file to run that it contains, so it was refused.',
  'manifest-entry-ambiguous': 'The model\u2019s signed manifest lists several model graphs without saying which one runs, so it was refused.',
  'manifest-not-yet-valid': 'The model\u2019s manifest claims to be issued in the future (check this device\u2019s clock); it was refused.',
  'manifest-mix-and-match': 'The server offered different content under a version number already verified here; it was refused.',
  'manifest-stale-reissue': 'The server offered an older re-signing of the current version; it was refused.',
  'manifest-name-mismatch': 'The server answered with the manifest of a different model; it was refused.',
  'manifest-malformed': 'The model\u2019s manifest is malformed and was refused.',
  'manifest-invalid': 'The model\u2019s manifest is invalid and was refused.',
  'manifest-statement-type': 'The model\u2019s signed statement is not a tessera model manifest, so it was refused.',
  'manifest-subject-mismatch': 'The model\u2019s signed statement lists files or fingerprints that disagree with its own file list, so it was refused.',
  'manifest-schema-unsupported': 'The model\u2019s manifest uses a format this app doesn\u2019t understand yet.',
  'manifest-unreadable': 'The model\u2019s manifest couldn\u2019t be read.',
  'envelope-malformed': 'The model\u2019s signed envelope is malformed and was refused.',
  'envelope-payload-type': 'The server sent something that isn\u2019t a tessera manifest; it was refused.',
  // On-device inference (runtime)
  'no-webgpu': 'This browser has no WebGPU, so the model can\u2019t run on a GPU here.',
  'no-adapter': 'WebGPU is unavailable on this device (no GPU adapter), so the model can\u2019t run on a GPU here.',
  'cpu-engine-unavailable': 'The on-device CPU engine couldn\u2019t be loaded (it comes with the app; it is tried again on the next answer).',
  'webgpu-engine-unavailable': 'The on-device GPU engine couldn\u2019t be loaded (it comes with the app; it is tried again on the next answer).',
  'limits-exceeded': 'This device\u2019s GPU is too small for the model.',
  'op-unsupported': 'The model uses an operation the on-device engine can\u2019t run reliably.',
  'engine-unsupported': 'The model needs an inference engine this app doesn\u2019t have.',
  'local-load-failed': 'The model couldn\u2019t be loaded on this device.',
  'local-offline': 'The model couldn\u2019t be loaded on this device because you\u2019re offline; it will be tried again once you\u2019re back online.',
  'local-self-test-failed': 'The on-device engine gave wrong answers on the model\u2019s known-answer tests, so it isn\u2019t used on this device.',
  'webgpu-shader-compile-failed': 'This browser\u2019s WebGPU rejected one of the model\u2019s GPU programs (shaders), so the model isn\u2019t used on this device.',
  'webgpu-validation-error': 'This browser\u2019s WebGPU reported an error while running the model, so its answers aren\u2019t used on this device.',
  'webgpu-device-lost': 'The GPU stopped responding while running the model (the device was lost); it will be tried again later.',
  'webgpu-out-of-memory': 'The GPU ran out of memory while running the model.',
  'webgpu-internal-error': 'This browser\u2019s WebGPU failed internally while running the model.',
  'onnx-external-path': 'The model\u2019s graph points at a weights file outside its own folder, so it isn\u2019t loaded.',
  'onnx-external-missing': 'The model\u2019s graph needs a weights file its signed manifest doesn\u2019t list, so it isn\u2019t loaded.',
  'onnx-external-range': 'The model\u2019s graph reads past the end of one of its weights files, so it isn\u2019t loaded.',
  'onnx-external-length': 'The model\u2019s graph and its weights files disagree on a tensor\u2019s size, so it isn\u2019t loaded.',
  'onnx-too-large': 'The model is larger than one ONNX graph can hold in this browser (2 GiB), so it can\u2019t run on this device.',
  'model-self-test-failed': 'The model gave wrong answers on its known-answer tests, so it isn\u2019t used.',
  'self-test-out-of-tolerance': 'The model gave wrong answers on its known-answer tests, so it isn\u2019t used.',
  'session-failed': 'The on-device engine couldn\u2019t prepare the model on this GPU.',
  'model-session-failed': 'The model couldn\u2019t be prepared for running.',
  'model-unsupported': 'This model can\u2019t run on the on-device engine.',
  'model-not-loaded': 'The model isn\u2019t loaded yet.',
  'worker-crashed': 'The on-device engine crashed; it was restarted.',
  'local-run-failed': 'Running the model on this device failed.',
  'local-timeout': 'The model took too long on this device.',
  'inference-unavailable': 'The model can\u2019t run anywhere right now: not on this device, and the edge server can\u2019t be reached.',
  'edge-unreachable': 'The edge server can\u2019t be reached.',
  'edge-timeout': 'The edge server didn\u2019t answer in time.',
  'edge-rejected': 'The edge server refused the request.',
  'edge-unconfigured': 'No edge server is configured.',
  offline: 'You\u2019re offline.',
  'policy-unknown': 'That inference policy isn\u2019t known.',
  'fetch-failed': 'A file the app needs couldn\u2019t be downloaded.',
  'runtime-config-invalid': 'The inference runtime\u2019s configuration is invalid.',
  // Edge inference API
  'rate-limited': 'Too many requests to the edge server; wait a moment and try again.',
  'auth-missing': 'The edge server needs a sign-in token.',
  'auth-invalid': 'The edge server refused the sign-in token.',
  'auth-expired': 'The sign-in token for the edge server has expired.',
  'auth-audience': 'The sign-in token is for a different service.',
  'request-too-large': 'The request is too large for the edge server.',
  'request-malformed': 'The request to the model was malformed.',
  'input-missing': 'The request lacks an input the model needs.',
  'input-unknown': 'The request has an input the model doesn\u2019t know.',
  'tensor-shape-mismatch': 'The input has the wrong shape for this model (the app and model versions may not match).',
  'tensor-dtype-mismatch': 'The input has the wrong number type for this model.',
  'inference-disabled': 'The edge server doesn\u2019t run models (inference is disabled there).',
  'inference-busy': 'The edge server is busy; try again in a moment.',
  'inference-failed': 'The edge server failed to run the model.',
  'internal-error': 'The edge server had an internal error; try again in a moment.',
  // The page itself
  unsupported: 'This browser doesn\u2019t support service workers, so the model can\u2019t be stored for offline use.',
  'no-service-worker': 'The offline engine (service worker) isn\u2019t running.',
  aborted: 'Cancelled.',
};

/**
 * Codes worded differently when an update of a stored model failed (`situation: 'update'`):
 * there a verified version is stored and keeps working, so "nothing is stored" would be wrong.
 */
const UPDATE_ERRORS = {
  network: 'The update server can\u2019t be reached (this device may be offline), so no update could be checked or downloaded. Nothing changed on this device; check again once you\u2019re back online.',
  quota: 'There isn\u2019t enough free storage on this device for the update. Free some space and check again.',
  'download-retries-exhausted': 'The update kept failing after several retries. What was downloaded is kept: the next check resumes where it stopped.',
};

/** `inference-unavailable` under the “this device only” policy: the edge is never asked. */
const LOCAL_ONLY_UNAVAILABLE = 'The model can\u2019t run on this device right now. Your settings keep this model on this device; choose another option under \u201cWhere models run\u201d to let the edge answer.';

/** Fallback reason → why an answer came from where it did, as a short phrase. */
const REASONS = {
  'no-webgpu': 'this browser has no WebGPU',
  'no-adapter': 'WebGPU is unavailable on this device',
  'limits-exceeded': 'the GPU is too small for this model',
  'op-unsupported': 'the model uses operations the on-device engine can\u2019t run',
  'local-load-failed': 'the model couldn\u2019t be loaded on this device',
  'local-offline': 'you\u2019re offline and the model couldn\u2019t be loaded on this device',
  'local-self-test-failed': 'the on-device engine failed the model\u2019s known-answer tests',
  'webgpu-shader-compile-failed': 'this browser\u2019s WebGPU rejected the model\u2019s GPU programs',
  'webgpu-validation-error': 'this browser\u2019s WebGPU reported an error for the model',
  'webgpu-device-lost': 'the GPU stopped responding',
  'worker-crashed': 'the on-device engine crashed',
  'local-run-failed': 'running on this device failed',
  'local-timeout': 'this device took too long',
  'edge-unreachable': 'the edge server can\u2019t be reached',
  'edge-timeout': 'the edge server didn\u2019t answer in time',
  'edge-rejected': 'the edge server refused the request',
  offline: 'you\u2019re offline',
  'edge-faster': 'the edge has been faster lately',
  'reprobe-edge': 're-checking the edge\u2019s speed',
};

/**
 * Why the runtime runs a model on this device's CPU rather than its GPU (the load report's
 * `engineReason`), as the end of "…runs on this device's CPU, because …". Capability codes
 * (no-webgpu, …) and WebGPU's failures are worded by REASONS.
 */
const ENGINE_REASONS = {
  'no-webgpu': 'this browser has no WebGPU',
  'no-adapter': 'WebGPU finds no graphics adapter on this device',
  'software-adapter': 'this browser\u2019s WebGPU has no real GPU here, only a slower software emulation',
  'calibrated-faster': 'it measured faster than this device\u2019s GPU for this model',
  'webgpu-failed-calibration': 'the GPU failed the model\u2019s checks when both were measured',
  'engine-cpu-requested': 'the app asked for the CPU engine',
  'op-unsupported': 'the model uses operations WebGPU can\u2019t run reliably in browsers',
  'limits-exceeded': 'the GPU is too small for this model',
  'local-self-test-failed': 'the GPU gave wrong answers on the model\u2019s known-answer tests',
};

/** Device faults after which the edge answers (unless the policy keeps the model on the device). */
const EDGE_ANSWERS = new Set([
  'no-webgpu', 'no-adapter', 'limits-exceeded', 'op-unsupported', 'engine-unsupported', 'cpu-engine-unavailable', 'webgpu-engine-unavailable',
  'local-self-test-failed', 'local-load-failed',
  'webgpu-shader-compile-failed', 'webgpu-validation-error',
]);

/**
 * A human message for `code`; unknown codes get a generic sentence that still shows the code.
 * `edgeFallback` (default true) says whether the edge can answer instead, for device faults;
 * false words it for the “this device only” policy. `situation: 'update'` words it for a
 * failed update of a model that is stored (default: a first download, or anything else).
 */
export function describeError(code, fallbackMessage, { edgeFallback = true, situation = 'download' } = {}) {
  if (situation === 'update' && code && UPDATE_ERRORS[code]) return UPDATE_ERRORS[code];
  if (code === 'inference-unavailable' && !edgeFallback) return LOCAL_ONLY_UNAVAILABLE;
  if (code && ERRORS[code]) {
    if (!EDGE_ANSWERS.has(code)) return ERRORS[code];
    return edgeFallback
      ? `${ERRORS[code]} Answers come from the edge server instead.`
      : `${ERRORS[code]} Your settings keep this model on this device; choose another option under \u201cWhere models run\u201d to let the edge answer.`;
  }
  const detail = fallbackMessage ? ` (${fallbackMessage})` : '';
  return `Something went wrong [${code || 'unknown'}]${detail}.`;
}

/**
 * The figures of a `quota` error in words (`details`: `{ needed, available, persisted, freeable }`
 * from the service worker; `bytes` formats a byte count), saying what the user can do; null
 * without figures.
 */
export function describeQuota(details, bytes) {
  if (!details || !(details.needed > 0)) return null;
  const parts = [`The model still needs ${bytes(details.needed)}; this site may store ${bytes(details.available)} more here.`];
  if (details.freeable > 0) {
    parts.push(`Removing the other models stored here would free only ${bytes(details.freeable)}, so they were kept.`);
  }
  parts.push(details.persisted
    ? 'Free space on this device (other sites’ data, files) and retry.'
    : 'Free space on this device (other sites’ data, files) and retry; installing the app also makes the browser more likely to keep its storage.');
  return parts.join(' ');
}

/** Why a model runs on the CPU and not the GPU (a load report's `engineReason`), as a short phrase; null when there is none. */
export function describeEngineReason(reason) {
  if (!reason) return null;
  return ENGINE_REASONS[reason] ?? REASONS[reason] ?? `WebGPU isn\u2019t usable here (${reason})`;
}

/** A short phrase for a fallback reason, or null when there is none. */
export function describeReason(reason) {
  if (!reason) return null;
  return REASONS[reason] ?? `reason: ${reason}`;
}

/** Whether `code` has a dedicated message (otherwise describeError's text already names it). */
export function isKnownError(code) {
  return Boolean(code && Object.hasOwn(ERRORS, code));
}
