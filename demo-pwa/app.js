// Wayfarer, the tessera demo PWA: a destination recommender and an itinerary summarizer that run
// on this device (on its GPU with WebGPU, else on its CPU; models stored offline by the tessera
// service worker) or on the edge server, as the policy of each says. Uses tessera exactly as its
// README tells third parties to; no bundler, no framework.
import { Tessera } from './tessera-client.js';
import { TesseraRuntime } from './tessera-runtime.js';
import { describeEngineReason, describeError, describeQuota, describeReason, isKnownError } from './ui/messages.js';
import {
  encodePreferences, encodeSentences, SENTENCE_DIMS, sentenceScores, splitSentences, topInOrder,
} from './ui/encode.js';
import { SAMPLE_ITINERARY } from './ui/sample.js';

const RECOMMENDER = 'recommender';
const SUMMARIZER = 'summarizer';
const TOP_DESTINATIONS = 8;

// [policy, label in settings, help, card badge]
const POLICIES = [
  ['prefer-local', 'Prefer this device', 'Runs on this device; the edge answers when the device can\u2019t.', 'Runs on your device'],
  ['prefer-edge', 'Prefer the edge', 'Runs on the edge server; this device answers when the edge can\u2019t be reached.', 'Runs on the edge'],
  ['race', 'Race both', 'Runs on both at once and keeps whichever answers first.', 'Device and edge race'],
  ['auto', 'Automatic (fastest)', 'Uses whichever side has been faster lately, re-checking the other every 30 s.', 'Fastest side'],
  ['local-only', 'This device only', 'Your data never leaves this device; it runs on the GPU, or on the CPU without one.', 'Only on your device'],
  ['edge-only', 'Edge only', 'Always runs on the edge server; needs a connection.', 'Only on the edge'],
];
const WHERE_BADGE = { [RECOMMENDER]: 'rec-where', [SUMMARIZER]: 'sum-where' };
const DEFAULT_POLICY = { [RECOMMENDER]: 'prefer-local', [SUMMARIZER]: 'prefer-edge' };
// The profile the form starts with (values travel.json doesn't offer are ignored); an unset group
// ("Any", no box ticked) reads as "no preference" to the model.
const SUGGESTED = {
  budget: 'moderate', season: 'summer', days: 10, interests: ['beaches'], pace: 'relaxed', party: 'couple',
};
/** Where the form (preferences and home region) and the last results are kept (localStorage). */
const PREFS_KEY = 'wayfarer.preferences';
const RESULTS_KEY = 'wayfarer.lastResults';
/** Phones: after an answer the page scrolls it into view (the form fills the screen there). */
const NARROW = '(max-width: 40rem)';

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------------
// Startup

let runtime = null;
let runtimeError = null;
let travel = null;
/** At-a-glance facts per destination (destinations.json); null when they couldn't be loaded. */
let facts = null;
/** Whether the tessera service worker controls the page (models can be stored for offline use). */
let workerReady = false;

async function main() {
  watchNetwork();
  setUpSettings();
  setUpSummarizer();
  $('dl-retry').addEventListener('click', () => download({ confirmed: true }));
  $('dl-remove').addEventListener('click', () => askToRemove());
  $('remove-dialog').addEventListener('close', () => {
    if ($('remove-dialog').returnValue === 'remove') removeModel();
  });
  $('dl-check').addEventListener('click', () => checkForUpdate());
  // The browser may grant persistence at any time (the worker asks on activation): look again
  // whenever the details are opened.
  $('dl-details').addEventListener('toggle', () => { if ($('dl-details').open) showStoragePersistence(); });
  showStoragePersistence();

  const travelLoaded = loadTravel();
  const registered = registerWorker();
  const runtimeReady = createRuntime();
  await travelLoaded;
  // The runtime's worker starts on its first call and reads models through the service worker
  // only if one controls the page then: the device is probed once registration has settled.
  workerReady = await registered;
  await runtimeReady;
  await checkDevice();
  // Stored are the models this device can run whose policy lets it run them here (anything but
  // "Edge only"): with the CPU engine, every browser that runs the runtime and WebAssembly SIMD.
  if (workerReady) {
    storeRecommender();
    storeSummarizer();
  } else {
    renderSummarizerStore();
  }
}

async function loadTravel() {
  const factsLoaded = loadFacts();
  try {
    const response = await fetch('travel.json');
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    travel = await response.json();
    facts = await factsLoaded;
    buildPreferences(travel.features);
    restoreResults();
  } catch (e) {
    $('prefs-fields').replaceChildren(alertBox(`The destination catalogue couldn\u2019t be loaded (${e.message}).`));
    $('rec-run').disabled = true;
  }
}

/** The at-a-glance facts (best months, daily budget, flight times); the app works without them. */
async function loadFacts() {
  try {
    const response = await fetch('destinations.json');
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}

/** Registers the tessera service worker; false (with the reason shown) when it can't. */
async function registerWorker() {
  try {
    await withTimeout(Tessera.register('/sw.js'), 15000, 'no-service-worker');
    return true;
  } catch (e) {
    showDownloadError(e.code ?? 'unsupported', e.message, false);
    return false;
  }
}

async function createRuntime() {
  try {
    const keys = await (await fetch('/trusted-keys.json')).json();
    runtime = await TesseraRuntime.create({
      edgeUrl: location.origin,
      trustedKeys: keys,
      policy: DEFAULT_POLICY[RECOMMENDER],
    });
  } catch (e) {
    runtimeError = e;
  }
}

// ---------------------------------------------------------------------------------------------
// This device: where the models run

/**
 * What this device can run models on, before any model is loaded: `gpu` is 'real' or
 * 'software' (WebGPU's adapter, from the runtime's capability check) or null, with `gpuCode`
 * saying why not (no-webgpu, no-adapter, …); `cpu` says whether the runtime's CPU engine can run
 * here (it is WebAssembly with SIMD). Null until checked.
 */
let device = null;
/** The recommender's load report (`engine`, `engineReason`, …) once the runtime loaded it. */
let recommenderLoad = null;
/** Why loading the recommender on this device failed, while it does. */
let recommenderLoadError = null;

/** Names of the browser engines for people. */
const ENGINE_NAMES = { 'wonnx-webgpu': 'GPU', 'tract-wasm': 'CPU' };

/**
 * Whether this browser validates a WebAssembly module that uses SIMD (an `i8x16.splat`), as
 * the runtime's CPU engine (tract, wasm32 + simd128) does.
 */
function wasmSimd() {
  try {
    return WebAssembly.validate(new Uint8Array([
      0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
    ]));
  } catch {
    return false;
  }
}

/** Whether a model can run on this device at all: the runtime started, on a GPU or the CPU. */
function canRunHere() {
  return Boolean(runtime && device && (device.gpu || device.cpu));
}

/** Probes this device (the runtime's WebGPU check, WebAssembly SIMD) and says what it found. */
async function checkDevice() {
  if (runtime) {
    const cpu = wasmSimd();
    try {
      const caps = await runtime.capabilities();
      device = { gpu: caps.isFallbackAdapter ? 'software' : 'real', gpuCode: null, cpu };
    } catch (e) {
      device = { gpu: null, gpuCode: e.code ?? 'no-webgpu', cpu };
    }
  }
  renderDevice();
}

/** Why WebGPU isn't used, as the end of "…runs on this device's CPU, because …". */
function whyNotGpu(code) {
  return describeEngineReason(code ?? 'no-webgpu');
}

/**
 * Where the recommender runs on this device, as the end of "The recommender runs …": from the
 * load report (`engine`, `engineReason`, `calibration`) once loaded, else from the capability
 * check. Null when it can't run here at all.
 */
function localPlace() {
  const load = recommenderLoad;
  if (load?.engine === 'wonnx-webgpu') {
    if (load.adapterIsFallback) return 'on this device with WebGPU\u2019s software adapter (no real GPU; slow)';
    return load.calibration?.cpuMs != null && !load.calibration.cached
      ? 'on this device\u2019s GPU (WebGPU): it measured faster than the CPU for this model'
      : 'on this device\u2019s GPU (WebGPU)';
  }
  if (load?.engine === 'tract-wasm') {
    const why = load.engineReason
      ?? (load.calibration ? 'calibrated-faster' : device.gpu === 'software' ? 'software-adapter' : device.gpuCode);
    return why ? `on this device\u2019s CPU, because ${whyNotGpu(why)}` : 'on this device\u2019s CPU';
  }
  if (device.gpu === 'real') return 'on this device, on its GPU (WebGPU) or its CPU, whichever is faster for it';
  if (device.cpu) return `on this device\u2019s CPU, because ${whyNotGpu(device.gpu === 'software' ? 'software-adapter' : device.gpuCode)}`;
  if (device.gpu === 'software') return 'on this device with WebGPU\u2019s software adapter (no real GPU; slow)';
  return null;
}

/**
 * The line under the status: where the recommender runs on this device (a real GPU, or the CPU
 * and why), from the runtime's capability check and, once loaded, its load report. Running on
 * the CPU works (offline too): only a device that can't run it, or a failed load, is a warning.
 */
function renderDevice() {
  const line = $('device');
  const policy = policies[RECOMMENDER];
  let text;
  let ok = true;
  if (!runtime) {
    text = `The inference runtime couldn\u2019t start: ${describeError(runtimeError?.code, runtimeError?.message)}`;
    ok = false;
  } else if (!device) {
    text = 'Checking where models can run on this device\u2026';
  } else if (recommenderLoadError && !recommenderLoad) {
    const e = recommenderLoadError;
    text = `The recommender couldn\u2019t be loaded on this device: ${describeError(e.code, e.message, { edgeFallback: policy !== 'local-only' })}`;
    ok = localOffline(e);
  } else {
    const place = localPlace();
    if (!place) {
      ok = false;
      text = `This browser can\u2019t run the recommender itself: ${whyNotGpu(device.gpuCode)}, and it lacks WebAssembly SIMD for the CPU engine. `
        + (policy !== 'local-only'
          ? 'Answers come from the edge server, so the model isn\u2019t downloaded.'
          : 'Your settings keep it on this device; choose another option under \u201cWhere models run\u201d to let the edge answer.');
    } else if (policy === 'edge-only') {
      text = `Your settings run the recommender on the edge only; it could run ${place}.`;
    } else {
      text = `The recommender runs ${place}.`;
    }
  }
  line.textContent = text;
  line.classList.toggle('device-ok', ok && Boolean(device));
  line.classList.toggle('device-warn', !ok);
  line.dataset.engine = recommenderLoad?.engine ?? '';
}

/** Keeps the device line up to date with a load of the recommender (its report or its failure). */
function followLoad(loading) {
  loading.then(
    (report) => {
      recommenderLoad = report;
      recommenderLoadError = null;
      renderDevice();
    },
    (e) => {
      recommenderLoad = null;
      recommenderLoadError = e;
      renderDevice();
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Online / offline

function watchNetwork() {
  const update = () => {
    const online = navigator.onLine;
    $('net').classList.toggle('badge-online', online);
    $('net').classList.toggle('badge-offline', !online);
    $('net-text').textContent = online ? 'Online' : 'Offline';
    if (online) backOnline();
  };
  window.addEventListener('online', update);
  window.addEventListener('offline', update);
  update();
}

/** Back online: alerts that only said "you're offline" no longer hold, so they go. */
function backOnline() {
  for (const id of ['rec-error', 'sum-error', 'dl-update']) {
    const box = $(id);
    if (!box.hidden && box.dataset.offline) box.hidden = true;
  }
  if (summarizerError) storeSummarizer();
}

/** Whether the on-device load failed only because this device is offline (`local-offline`). */
function localOffline(e) {
  return e?.code === 'local-offline' || e?.reason === 'local-offline';
}

/** Whether a failure happened because this device is offline (not because a server refused). */
function offlineFailure(e) {
  return !navigator.onLine || e?.reason === 'offline' || e?.code === 'offline' || e?.code === 'network';
}

// ---------------------------------------------------------------------------------------------
// Download card

const STATE_TEXT = {
  absent: 'Not on this device yet',
  checking: 'Checking the signed manifest\u2026',
  downloading: 'Downloading\u2026',
  verifying: 'Verifying every byte\u2026',
  ready: 'Ready \u2014 stored and verified, works offline',
  error: 'Download stopped',
};

let downloading = false;
let checking = false;
/** The version the service worker serves (what the runtime loaded), from the latest status. */
let servingVersion = null;
/** The recommender's state in the service worker (absent, downloading, ready, …), from the latest status. */
let recommenderState = null;

/**
 * The download decision for the recommender: it is downloaded when this device can run it (the
 * runtime started, and its capability check found WebGPU or the CPU engine can run: WebAssembly
 * SIMD) and its policy lets it run here (anything but "Edge only"); otherwise the status line
 * says why not, and the 28 MB stay on the server.
 */
async function storeRecommender() {
  if (!canRunHere()) {
    showNotStored(runtime && device
      ? 'Not downloaded \u2014 this browser can\u2019t run the recommender, so it would never be used here'
      : 'Not downloaded \u2014 the inference runtime couldn\u2019t start in this browser');
    return;
  }
  if (policies[RECOMMENDER] === 'edge-only') {
    // Kept from before, it stays (and shows as stored); it isn't downloaded for an edge-only policy.
    const status = await Tessera.status(RECOMMENDER).catch(() => null);
    if (status?.state === 'ready') renderStatus(status);
    else showNotStored('Not downloaded \u2014 your settings run the recommender on the edge only; choose another option in Settings to keep it on this device');
    return;
  }
  download();
}

/** Whether the recommender's download was skipped (the status line says why). */
let recommenderSkipped = false;

/** The status line when the recommender isn't downloaded on purpose: `text` says why. */
function showNotStored(text) {
  recommenderState = 'absent';
  recommenderSkipped = true;
  $('dl-state').textContent = text;
  $('dl-state').className = 'state state-absent state-skipped';
  $('dl-bar').value = 0;
  $('dl-pct').textContent = '';
  $('dl-retry').hidden = true;
  $('dl-remove').hidden = true;
  $('dl-check').hidden = true;
}

/**
 * Above this many bytes still to download the app asks first, saying the size and the time it
 * takes at the download speed measured so far (`Tessera.estimate`). The demo's recommender (28 MB)
 * is below it; `?askAbove=BYTES` in the page's URL sets another threshold.
 */
const ASK_ABOVE_BYTES = Number(new URLSearchParams(location.search).get('askAbove') ?? 100e6);

/** "about 40 s" / "about 3 min" for a time in whole seconds. */
function duration(seconds) {
  return seconds < 90 ? `about ${seconds} s` : `about ${Math.ceil(seconds / 60)} min`;
}

/**
 * Whether to go ahead with the download: yes when what is missing is at most
 * {@link ASK_ABOVE_BYTES} (or the estimate can't be had: the download then says what failed),
 * else the user's answer in the download dialog.
 */
async function confirmBigDownload() {
  const estimate = await Tessera.estimate(RECOMMENDER).catch(() => null);
  if (!estimate || estimate.missing <= ASK_ABOVE_BYTES) return true;
  const time = estimate.etaSeconds === null
    ? 'How long it takes depends on your connection.'
    : `At the speed measured on this device so far that takes ${duration(estimate.etaSeconds)}.`;
  const room = estimate.available === null ? '' : ` This site may still store ${bytes(estimate.available)} here.`;
  $('download-text').textContent = `It needs ${bytes(estimate.missing)} of storage on this device. ${time}${room}`;
  const dialog = $('download-dialog');
  dialog.returnValue = '';
  dialog.showModal();
  await new Promise((resolve) => dialog.addEventListener('close', resolve, { once: true }));
  return dialog.returnValue === 'download';
}

/** Whether the user answered "Not now" in the download dialog (answers then come from the edge). */
let downloadDeclined = false;

async function download({ confirmed = false } = {}) {
  if (downloading) return;
  downloading = true;
  downloadDeclined = false;
  if (!confirmed && !(await confirmBigDownload())) {
    downloading = false;
    downloadDeclined = true;
    showNotStored('Not downloaded yet — choose Download when you want the recommender on this device; until then answers come from the edge');
    $('dl-retry').textContent = 'Download';
    $('dl-retry').hidden = false;
    return;
  }
  recommenderSkipped = false;
  $('dl-error').hidden = true;
  $('dl-retry').hidden = true;
  renderStatus({ state: 'checking', bytesDone: 0, bytesTotal: 0, shardsDone: 0, shardsTotal: 0 });
  const unsubscribe = Tessera.onProgress((s) => { if (s.model === RECOMMENDER) renderStatus(s); });
  try {
    renderStatus(await Tessera.ensureModel(RECOMMENDER, { onProgress: renderStatus }));
    warmUp();
  } catch (e) {
    showDownloadError(e.code, e.message, true, e.details);
  } finally {
    unsubscribe();
    downloading = false;
  }
}

/**
 * Once the model is stored, loads it into the runtime in the background: the first answer is then
 * instant, and the runtime keeps its verified copy of the signed manifest, so the recommender
 * also works after an offline reload even if it was never asked online. A failure here is only
 * a missed head start: `run` reports it properly.
 */
function warmUp() {
  if (!runtime) return;
  const loading = runtime.load(RECOMMENDER);
  loading.catch(() => {});
  followLoad(loading);
}

/**
 * "Check for updates": the service worker looks for a newer signed version and installs it; the
 * stored version keeps serving, whole, until the switch. A refused update (a tampered shard, a
 * bad signature, a rollback, an expired manifest) is said in words under the card, which stays
 * Ready with the version it has. After a switch the runtime loads the new version.
 */
async function checkForUpdate() {
  if (checking || downloading) return;
  checking = true;
  const button = $('dl-check');
  button.disabled = true;
  button.textContent = 'Checking for updates\u2026';
  $('dl-update').hidden = true;
  const before = servingVersion;
  const unsubscribe = Tessera.onProgress((s) => { if (s.model === RECOMMENDER) renderStatus(s); });
  try {
    const status = await Tessera.checkUpdate(RECOMMENDER, { onProgress: renderStatus });
    renderStatus(status);
    if (status.version && status.version !== before) {
      showUpdateNote(`Updated to version ${status.version}: downloaded, verified and switched in one step.`);
      reloadModel();
    } else {
      showUpdateNote(`You have the latest version (${status.version ?? before}).`);
    }
  } catch (e) {
    renderStatus(await Tessera.status(RECOMMENDER).catch(() => null));
    const kept = servingVersion ? ` \u2014 version ${servingVersion} keeps working` : '';
    const text = describeError(e.code, e.message, { situation: 'update' });
    showUpdateNote(`Update not installed${kept}. ${text}`, e.code ?? 'unknown', offlineFailure(e));
  } finally {
    unsubscribe();
    checking = false;
    button.disabled = false;
    button.textContent = 'Check for updates';
  }
}

/**
 * The result of an update check under the card; `code` (a refusal) turns it into an alert;
 * `offline` (it failed for want of a network) makes it go once the device is back online.
 */
function showUpdateNote(text, code, offline = false) {
  const note = $('dl-update');
  note.replaceChildren(text);
  if (code && isKnownError(code)) note.append(' ', codeTag(code));
  note.classList.toggle('alert', Boolean(code));
  setCode(note, code);
  setOffline(note, offline);
  note.hidden = false;
}

let reloadPending = false;

/**
 * Makes the runtime load the version now served: its worker is restarted (it keeps the loaded
 * session otherwise) once no answer is being computed, then warmed up again.
 */
function reloadModel() {
  reloadPending = true;
  if (!runtime || recommending || summarizing) return;
  reloadPending = false;
  runtime.close();
  warmUp();
}

/** Bytes the stored recommender takes (the service worker's `bytesTotal` once it is ready). */
let storedBytes = 0;

/** "Remove from device" asks first, in a dialog that says how much space removing frees. */
function askToRemove() {
  const dialog = $('remove-dialog');
  const size = storedBytes > 0 ? bytes(storedBytes) : null;
  $('remove-text').textContent = `${size ? `This frees ${size} on this device. ` : ''}Destinations then come `
    + 'from the edge server (which needs a connection) until you download the model again.';
  dialog.returnValue = '';
  dialog.showModal();
}

async function removeModel() {
  $('dl-remove').disabled = true;
  const freed = storedBytes;
  try {
    await Tessera.remove(RECOMMENDER);
    renderStatus({ state: 'absent', bytesDone: 0, bytesTotal: 0, shardsDone: 0, shardsTotal: 0 });
    storedBytes = 0;
    $('dl-version').textContent = '';
    showUpdateNote(freed > 0 ? `Removed from this device: ${bytes(freed)} freed.` : 'Removed from this device.');
    $('dl-retry').textContent = 'Download again';
    $('dl-retry').hidden = false;
    $('dl-retry').focus();
  } catch (e) {
    showDownloadError(e.code, e.message, false);
  } finally {
    $('dl-remove').disabled = false;
  }
}

function renderStatus(s) {
  if (!s) return;
  if (s.state === 'error' && s.error) {
    showDownloadError(s.error.code, s.error.message, true, s.error.details);
    return;
  }
  if (s.version) servingVersion = s.version;
  recommenderState = s.state;
  recommenderSkipped = false;
  const total = s.bytesTotal || 0;
  if (s.state === 'ready' && total > 0) storedBytes = total;
  const done = s.state === 'ready' ? total : (s.bytesDone || 0);
  const fraction = total > 0 ? done / total : (s.state === 'ready' ? 1 : 0);
  const updating = s.state !== 'ready' && s.version && s.pendingVersion && s.pendingVersion !== s.version;
  $('dl-state').textContent = updating
    ? `Downloading update ${s.pendingVersion}\u2026 (version ${s.version} keeps working meanwhile)`
    : STATE_TEXT[s.state] ?? s.state;
  $('dl-state').className = `state state-${s.state}`;
  const bar = $('dl-bar');
  bar.classList.remove('bar-error');
  if (s.state === 'checking' && total === 0) bar.removeAttribute('value');
  else bar.value = fraction;
  $('dl-bytes').textContent = total > 0 ? `${bytes(done)} of ${bytes(total)}` : '\u2014';
  $('dl-pct').textContent = total > 0 ? `${Math.floor(fraction * 100)} %` : '';
  $('dl-shards').textContent = shardsText(s);
  $('dl-resumed').hidden = !s.resumed;
  if (s.version) $('dl-version').textContent = `version ${s.version}`;
  $('dl-remove').hidden = s.state !== 'ready';
  $('dl-check').hidden = s.state !== 'ready' && !checking;
  if (s.state === 'ready') {
    $('dl-error').hidden = true;
    $('dl-retry').hidden = true;
  }
}

/**
 * Says whether the browser keeps the model for good (`navigator.storage.persisted()`): the
 * service worker asks for persistent storage, and the browser decides.
 */
async function showStoragePersistence() {
  const note = $('storage-note');
  let persisted = null;
  try {
    persisted = navigator.storage?.persisted ? await navigator.storage.persisted() : null;
  } catch {
    persisted = null;
  }
  note.dataset.persisted = String(persisted);
  note.textContent = persisted === true
    ? 'Storage is persistent: the browser won\u2019t delete the model to free space; only you can remove it.'
    : persisted === false
      ? 'Storage isn\u2019t persistent: the browser may delete the model if this device runs low on space, and it then downloads again when you\u2019re online.'
      : 'This browser doesn\u2019t say whether it keeps stored models when space runs low.';
}

/**
 * "3 of 7 shards verified · 4 downloading": each shard counts as verified only once whole, so
 * early in a download the bytes move while no shard is verified yet; the shards in flight (the
 * worker's `shardsInFlight`) say that it is moving.
 */
function shardsText(s) {
  if (!(s.shardsTotal > 0)) return '';
  const verified = s.state === 'ready' ? s.shardsTotal : Math.min(s.shardsDone || 0, s.shardsTotal);
  const text = `${verified} of ${s.shardsTotal} shards verified`;
  const moving = s.state === 'downloading' ? s.shardsInFlight || 0 : 0;
  return moving > 0 ? `${text} \u00b7 ${moving} downloading` : text;
}

function showDownloadError(code, message, retry, details = null) {
  recommenderState = 'error';
  $('dl-state').textContent = STATE_TEXT.error;
  $('dl-state').className = 'state state-error';
  $('dl-bar').classList.add('bar-error');
  const box = $('dl-error');
  const figures = code === 'quota' ? describeQuota(details, bytes) : null;
  box.replaceChildren(figures ? `${describeError(code, message)} ${figures}` : describeError(code, message));
  if (isKnownError(code)) box.append(' ', codeTag(code));
  setCode(box, code);
  box.hidden = false;
  $('dl-retry').textContent = 'Retry download';
  $('dl-retry').hidden = !retry;
  $('dl-remove').hidden = true;
  $('dl-check').hidden = true;
}

// ---------------------------------------------------------------------------------------------
// Settings

const policies = { ...DEFAULT_POLICY };

function setUpSettings() {
  const dialog = $('settings-dialog');
  $('settings-open').addEventListener('click', () => dialog.showModal());
  $('settings-close').addEventListener('click', () => dialog.close());
  for (const model of [RECOMMENDER, SUMMARIZER]) {
    const select = $(`policy-${model}`);
    for (const [value, label] of POLICIES) select.append(new Option(label, value));
    const saved = localStorage.getItem(`wayfarer.policy.${model}`);
    if (POLICIES.some(([p]) => p === saved)) policies[model] = saved;
    select.value = policies[model];
    const help = () => {
      const [, , text, badge] = POLICIES.find(([p]) => p === select.value);
      $(`policy-${model}-help`).textContent = text;
      $(WHERE_BADGE[model]).textContent = badge;
    };
    help();
    select.addEventListener('change', () => {
      policies[model] = select.value;
      localStorage.setItem(`wayfarer.policy.${model}`, select.value);
      help();
      policyChanged(model);
    });
  }
}

/**
 * A model's policy changed: one that may now run it on this device gets it stored (downloaded
 * once, for offline use); what the page says about it follows.
 */
function policyChanged(model) {
  const local = policies[model] !== 'edge-only';
  if (model === RECOMMENDER) {
    renderDevice();
    if (!workerReady || !device || downloading) return;
    // Only a download skipped for the policy starts now; one removed by the user waits for "Download again".
    if (local && recommenderSkipped) storeRecommender();
    else if (!local && recommenderState !== 'ready') storeRecommender();
  } else {
    storeSummarizer();
  }
}

// ---------------------------------------------------------------------------------------------
// Recommender

/** The form as it was last left on this device (localStorage), or null. */
function savedPreferences() {
  const saved = readStored(PREFS_KEY);
  return saved && typeof saved === 'object' && !Array.isArray(saved) ? saved : null;
}

function buildPreferences(features) {
  // The form starts as it was left (saved on every change), else with the suggested profile.
  const start = savedPreferences() ?? SUGGESTED;
  const fields = features.map((f) => {
    if (f.kind === 'choice') return f.options.length <= 4 ? radioGroup(f, start) : selectField(f, start);
    if (f.kind === 'multi') return checkboxGroup(f, start);
    if (f.kind === 'scalar') return rangeField(f, start);
    return null;
  }).filter(Boolean);
  if (facts) fields.push(homeField(start));
  $('prefs-fields').replaceChildren(...fields);
  $('prefs').addEventListener('submit', (event) => {
    event.preventDefault();
    recommend();
  });
  $('prefs').addEventListener('change', (event) => {
    writeStored(PREFS_KEY, readForm());
    if (event.target.name === 'home') renderGlance();
  });
}

/** "Flying from": not a model input, only picks the flight times shown with each destination. */
function homeField(start) {
  const id = 'pref-home';
  const select = el('select', { id, name: 'home', 'aria-describedby': 'help-home' });
  select.append(new Option('Choose a region', ''));
  for (const [value, text] of Object.entries(facts.regions)) select.append(new Option(pretty(text), value));
  select.value = facts.regions[start.home] ? start.home : '';
  return el('div', { class: 'group field' },
    el('label', { for: id }, 'Flying from'), select,
    el('p', { class: 'help', id: 'help-home' }, 'Only for the flight times shown with each destination.'));
}

/** The form's values: the model's preferences plus the home region. */
function readForm() {
  return { ...readPreferences(), home: new FormData($('prefs')).get('home') ?? '' };
}

function radioGroup(f, values) {
  const set = fieldset(f);
  const row = el('div', { class: 'pills' });
  const start = f.options.includes(values[f.name]) ? values[f.name] : '';
  for (const [value, text] of [['', 'Any'], ...f.options.map((o) => [o, pretty(o)])]) {
    const input = el('input', { type: 'radio', name: f.name, value });
    input.checked = value === start;
    row.append(el('label', { class: 'pill' }, input, el('span', {}, text)));
  }
  set.append(row, ...groupHelp(f));
  return set;
}

/** A fieldset with its legend, pointing to its hint (groupHelp) when travel.json gives one. */
function fieldset(f, wide = false) {
  const set = el('fieldset', { class: wide ? 'group group-wide' : 'group' }, el('legend', {}, labelOf(f)));
  if (f.help) set.setAttribute('aria-describedby', `help-${f.name}`);
  return set;
}

/** The hint under a group's controls, when travel.json gives one. */
function groupHelp(f) {
  return f.help ? [el('p', { class: 'help group-help', id: `help-${f.name}` }, f.help)] : [];
}

function selectField(f, values) {
  const id = `pref-${f.name}`;
  const select = el('select', { id, name: f.name });
  select.append(new Option('Any', ''));
  for (const option of f.options) select.append(new Option(pretty(option), option));
  select.value = f.options.includes(values[f.name]) ? values[f.name] : '';
  return el('div', { class: 'group field' }, el('label', { for: id }, labelOf(f)), select);
}

function checkboxGroup(f, values) {
  const set = fieldset(f, true);
  const row = el('div', { class: 'pills' });
  const start = Array.isArray(values[f.name]) ? values[f.name] : [];
  f.options.forEach((option) => {
    const input = el('input', { type: 'checkbox', name: f.name, value: option });
    input.checked = start.includes(option);
    row.append(el('label', { class: 'pill pill-check' }, input, el('span', {}, pretty(option))));
  });
  set.append(row, ...groupHelp(f));
  return set;
}

function rangeField(f, values) {
  const id = `pref-${f.name}`;
  const step = f.step ?? (Number.isInteger(f.min) && Number.isInteger(f.max) ? 1 : 'any');
  const suggested = Number(values[f.name] ?? Number.NaN);
  const start = suggested >= f.min && suggested <= f.max
    ? suggested : (f.default ?? Math.round(f.min + (f.max - f.min) * 0.25));
  const input = el('input', { type: 'range', id, name: f.name, min: f.min, max: f.max, step });
  input.value = String(start);
  const output = el('output', { for: id, class: 'range-value' }, String(start));
  input.addEventListener('input', () => { output.textContent = input.value; });
  return el('div', { class: 'group field' },
    el('div', { class: 'range-head' }, el('label', { for: id }, labelOf(f)), output),
    input,
    el('div', { class: 'range-ends', 'aria-hidden': 'true' }, el('span', {}, String(f.min)), el('span', {}, String(f.max))));
}

function readPreferences() {
  const form = new FormData($('prefs'));
  const values = {};
  for (const f of travel.features) {
    values[f.name] = f.kind === 'multi' ? form.getAll(f.name) : form.get(f.name);
  }
  return values;
}

let recommending = false;

async function recommend() {
  if (recommending || !travel) return;
  if (!runtime) {
    showRunError('rec', runtimeError?.code, runtimeError?.message);
    return;
  }
  recommending = true;
  const button = $('rec-run');
  button.disabled = true;
  $('rec-out').setAttribute('aria-busy', 'true');
  // Declined in the download dialog: the model is not fetched behind the user's back.
  const policy = downloadDeclined ? 'edge-only' : policies[RECOMMENDER];
  button.textContent = policy === 'edge-only' || policy === 'prefer-edge' ? 'Asking the edge\u2026' : 'Thinking on your device\u2026';
  const data = encodePreferences(travel.features, readPreferences(), travel.width ?? 64);
  const question = readForm();
  writeStored(PREFS_KEY, question);
  try {
    const result = await runtime.run(RECOMMENDER, { features: { dtype: 'float32', shape: [1, data.length], data } }, { policy });
    const picks = topPicks(result.outputs.scores.data);
    const top = showDestinations(picks);
    $('rec-restored').hidden = true;
    writeStored(RESULTS_KEY, { question, picks, source: result.source, engine: result.engine ?? null, at: new Date().toISOString() });
    showMeta('rec', result);
    if (result.source === 'local' && !recommenderLoad) followLoad(runtime.load(RECOMMENDER));
    revealOnPhones('rec-out');
    $('rec-announce').textContent = `${top.length} destinations, computed ${computedWhere(result.source, result.engine)}. Top match: ${top[0]?.name}, ${top[0]?.country}.`;
  } catch (e) {
    const edgeDown = edgeDownText(RECOMMENDER, e, policy);
    showRunError('rec', e.code, e.message, e.reason, edgeDown, policy, (Boolean(edgeDown) && offlineFailure(e)) || localOffline(e));
  } finally {
    recommending = false;
    if (reloadPending) reloadModel();
    button.disabled = false;
    button.textContent = 'Find destinations';
    $('rec-out').setAttribute('aria-busy', 'false');
  }
}

/** The model's top destinations: `[{id, score}]`, best first, `score` as the model gave it. */
function topPicks(scores) {
  const n = Math.min(scores.length, travel.destinations.length);
  return [...Array(n).keys()]
    .sort((a, b) => scores[b] - scores[a])
    .slice(0, TOP_DESTINATIONS)
    .map((i) => ({ id: travel.destinations[i].id, score: Number(scores[i]) }));
}

/**
 * How well a destination matches, on a fixed 0-100 scale that doesn't depend on the other
 * destinations: the recommender's score estimates an affinity of about 0 (nothing fits) to 5 (all
 * fits) for a top pick, so `match = clamp(round(20 * score), 0, 100)`; bands: great >= 70,
 * good >= 50, fair >= 30, else weak.
 */
function matchScore(score) {
  const value = Math.min(100, Math.max(0, Math.round(20 * score)));
  const band = value >= 70 ? 'Great' : value >= 50 ? 'Good' : value >= 30 ? 'Fair' : 'Weak';
  return { value, band };
}

function showDestinations(picks) {
  const byId = new Map(travel.destinations.map((d) => [d.id, d]));
  const shown = picks.filter((p) => byId.has(p.id));
  const items = shown.map((p, rank) => {
    const d = byId.get(p.id);
    const { value, band } = matchScore(p.score);
    const meter = el('meter', {
      min: 0, max: 100, low: 30, high: 70, optimum: 100, value, 'aria-label': `Match: ${value} out of 100, ${band.toLowerCase()}`,
    });
    return el('li', { class: 'dest', 'data-id': d.id },
      el('span', { class: 'dest-rank', 'aria-hidden': 'true' }, String(rank + 1)),
      el('div', { class: 'dest-body' },
        el('h3', {}, d.name, el('span', { class: 'dest-country' }, ` \u00b7 ${d.country}`)),
        el('p', { class: 'dest-blurb' }, d.blurb),
        el('dl', { class: 'glance' }),
        el('div', { class: 'dest-score' }, meter,
          el('span', { class: 'dest-match' }, `${band} match \u00b7 ${value}/100`))));
  });
  $('rec-error').hidden = true;
  $('rec-list').replaceChildren(...items);
  $('rec-scale').hidden = items.length === 0;
  renderGlance();
  return shown.map((p) => byId.get(p.id));
}

/** Best months, daily budget and flight time of each destination shown (destinations.json). */
function renderGlance() {
  const home = $('pref-home')?.value ?? '';
  for (const item of $('rec-list').querySelectorAll('li.dest')) {
    const list = item.querySelector('dl.glance');
    const d = travel.destinations.find((x) => x.id === item.dataset.id);
    const f = facts?.destinations?.[item.dataset.id];
    if (!list || !d || !f) {
      list?.replaceChildren();
      continue;
    }
    const rows = [
      ['Best months', bestMonths(f.seasons)],
      ['Daily budget', `${facts.dailyBudget[f.cost] ?? '\u2014'} per person`],
    ];
    const band = facts.flights?.[home]?.[d.region];
    rows.push(['Flight', band
      ? `${facts.flightBands[band]} from ${facts.regions[home]}`
      : 'choose \u201cFlying from\u201d']);
    list.replaceChildren(...rows.map(([k, v]) => el('div', {}, el('dt', {}, k), el('dd', {}, v))));
  }
}

/**
 * Best months from season letters (p = Mar-May, s = Jun-Aug, a = Sep-Nov, w = Dec-Feb): adjacent
 * seasons merge ("ps" = "Mar\u2013Aug", "wp" = "Dec\u2013May"), all four read "All year".
 */
function bestMonths(seasons) {
  const order = 'psaw';
  const on = order.split('').map((c) => seasons.includes(c));
  if (on.every(Boolean)) return 'All year';
  if (!on.some(Boolean)) return '\u2014';
  const runs = [];
  // Start after a season that is off, so a run across the new year (winter, spring) stays whole.
  const first = on.findIndex((x, i) => x && !on[(i + 3) % 4]);
  for (let k = 0; k < 4; k += 1) {
    const i = (first + k) % 4;
    if (!on[i]) continue;
    if (on[(i + 3) % 4] && runs.length) runs[runs.length - 1][1] = i;
    else runs.push([i, i]);
  }
  return runs
    .sort((a, b) => a[0] - b[0])
    .map(([a, b]) => `${facts.seasonMonths[order[a]][0]}\u2013${facts.seasonMonths[order[b]][1]}`)
    .join(', ');
}

/**
 * Shows the last results saved on this device as soon as the form is built, before any answer:
 * after a reload, online or offline, the question in the form and its answer are where they were.
 */
function restoreResults() {
  const saved = readStored(RESULTS_KEY);
  if (!saved || !Array.isArray(saved.picks) || saved.picks.length === 0) return;
  if (!saved.picks.every((p) => travel.destinations.some((d) => d.id === p.id) && Number.isFinite(p.score))) return;
  showDestinations(saved.picks);
  const when = new Date(saved.at);
  const at = Number.isNaN(when.getTime()) ? '' : `, ${when.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' })}`;
  const where = computedWhere(saved.source, saved.engine);
  const same = JSON.stringify(saved.question) === JSON.stringify(readForm());
  $('rec-restored').textContent = `Your last results (computed ${where}${at})`
    + `${same ? ' for the preferences above' : ', before your latest changes to the preferences'}. `
    + 'Find destinations to ask again.';
  $('rec-restored').hidden = false;
}

/** On phones the answer is below the form: scroll it into view (without animation if asked). */
function revealOnPhones(id) {
  if (!window.matchMedia(NARROW).matches) return;
  const smooth = !window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  $(id).scrollIntoView({ behavior: smooth ? 'smooth' : 'auto', block: 'start' });
}

// ---------------------------------------------------------------------------------------------
// Summarizer

/** The summarizer's status in the service worker (stored for offline use?), or null. */
let summarizerStatus = null;
/** Why storing the summarizer failed, until it is tried again. */
let summarizerError = null;
let storingSummarizer = false;

/**
 * Stores the summarizer for offline use whenever its policy may run it on this device (anything
 * but "Edge only": "Prefer the edge" promises that this device answers when the edge can't be
 * reached, offline included) and this device can run it. 3 MB, one shard; the line under its
 * form says whether it is stored.
 */
async function storeSummarizer() {
  if (storingSummarizer) return;
  if (!workerReady || !canRunHere() || policies[SUMMARIZER] === 'edge-only') {
    if (workerReady && !summarizerStatus) summarizerStatus = await Tessera.status(SUMMARIZER).catch(() => null);
    renderSummarizerStore();
    return;
  }
  storingSummarizer = true;
  summarizerError = null;
  renderSummarizerStore();
  try {
    summarizerStatus = await Tessera.ensureModel(SUMMARIZER, {
      onProgress: (status) => {
        summarizerStatus = status;
        renderSummarizerStore();
      },
    });
  } catch (e) {
    summarizerError = e;
  } finally {
    storingSummarizer = false;
    renderSummarizerStore();
  }
}

function summarizerStored() {
  return summarizerStatus?.state === 'ready';
}

/** The line under the summarizer's form: whether it is stored on this device, and what that means. */
function renderSummarizerStore() {
  const line = $('sum-store');
  const policy = policies[SUMMARIZER];
  const size = summarizerStatus?.bytesTotal > 0 ? `${bytes(summarizerStatus.bytesTotal)}, ` : '';
  let text;
  let state;
  if (summarizerStored()) {
    state = 'stored';
    text = policy === 'edge-only'
      ? `Stored on this device (${size}verified), but your settings run the summarizer on the edge only.`
      : policy === 'local-only'
        ? `Stored on this device (${size}verified): it runs here, offline too.`
        : policy === 'prefer-edge'
          ? `Stored on this device (${size}verified): this device answers when the edge can\u2019t be reached, offline too.`
          : `Stored on this device (${size}verified), so it answers offline too.`;
  } else if (storingSummarizer) {
    state = 'storing';
    const s = summarizerStatus;
    const pct = s?.bytesTotal > 0 && s.state !== 'ready' ? ` ${Math.floor((100 * (s.bytesDone || 0)) / s.bytesTotal)} %` : '';
    text = `Storing the summarizer on this device for offline use\u2026${pct}`;
  } else if (!runtime || (device && !canRunHere())) {
    state = 'cannot';
    text = 'Not stored: this browser can\u2019t run the summarizer itself, so it runs on the edge only and needs a connection.';
  } else if (!device) {
    state = 'checking';
    text = '';
  } else if (policy === 'edge-only') {
    state = 'edge-only';
    text = 'Not stored on this device: your settings run the summarizer on the edge only, so it needs a connection.';
  } else if (!workerReady) {
    state = 'cannot';
    text = 'This browser can\u2019t store the summarizer for offline use (the offline engine isn\u2019t running): offline, it can\u2019t answer.';
  } else if (summarizerError) {
    state = 'error';
    text = `Not stored for offline use yet: ${describeError(summarizerError.code, summarizerError.message)}`;
  } else {
    state = 'checking';
    text = '';
  }
  line.textContent = text;
  line.hidden = text === '';
  line.dataset.state = state;
  setCode(line, state === 'error' ? summarizerError?.code : null);
}

function setUpSummarizer() {
  const area = $('itinerary');
  area.value = SAMPLE_ITINERARY;
  const count = () => {
    const n = splitSentences(area.value).length;
    const max = travel?.summarizer?.maxSentences ?? 32;
    $('sum-count').textContent = n > max
      ? `${n} sentences \u2014 the first ${max} are read.`
      : `${n} sentence${n === 1 ? '' : 's'}.`;
  };
  area.addEventListener('input', count);
  count();
  $('sum-copy').addEventListener('click', () => copyBrief());
  $('summary-form').addEventListener('submit', (event) => {
    event.preventDefault();
    summarize();
  });
}

let summarizing = false;

async function summarize() {
  if (summarizing) return;
  const dims = travel?.summarizer?.dims ?? SENTENCE_DIMS;
  const max = travel?.summarizer?.maxSentences ?? 32;
  const sentences = splitSentences($('itinerary').value).slice(0, max);
  if (sentences.length === 0) {
    showRunError('sum', null, null, null, 'Paste an itinerary first: there is nothing to summarize.');
    return;
  }
  if (!runtime) {
    showRunError('sum', runtimeError?.code, runtimeError?.message);
    return;
  }
  summarizing = true;
  const button = $('sum-run');
  button.disabled = true;
  button.textContent = 'Summarizing\u2026';
  $('sum-out').setAttribute('aria-busy', 'true');
  const policy = policies[SUMMARIZER];
  try {
    const data = encodeSentences(sentences, dims, max);
    const result = await runtime.run(SUMMARIZER, { sentences: { dtype: 'float32', shape: [max, dims], data } }, { policy });
    const scores = sentenceScores(result.outputs.scores, sentences.length, travel?.summarizer?.scoreColumn ?? 0);
    const k = sentences.length <= 4 ? sentences.length : sentences.length >= 12 ? 4 : 3;
    const picked = topInOrder(scores, sentences.length, k);
    $('sum-list').replaceChildren(...picked.map((i) => el('li', {}, sentences[i])));
    $('sum-copied').textContent = '';
    $('sum-brief').hidden = false;
    $('sum-error').hidden = true;
    showMeta('sum', result, `${k} of ${sentences.length} sentences`);
    $('sum-announce').textContent = `Brief ready: ${k} key sentences, computed ${computedWhere(result.source, result.engine)}.`;
    revealOnPhones('sum-out');
  } catch (e) {
    const edgeDown = edgeDownText(SUMMARIZER, e, policy);
    showRunError('sum', e.code, e.message, e.reason, edgeDown, policy, (Boolean(edgeDown) && offlineFailure(e)) || localOffline(e));
  } finally {
    summarizing = false;
    if (reloadPending) reloadModel();
    button.disabled = false;
    button.textContent = 'Summarize';
    $('sum-out').setAttribute('aria-busy', 'false');
  }
}

/** "Copy": the brief as plain text, one key sentence a line. */
async function copyBrief() {
  const text = [...$('sum-list').querySelectorAll('li')].map((li) => `\u2022 ${li.textContent}`).join('\n');
  try {
    await navigator.clipboard.writeText(text);
    $('sum-copied').textContent = 'Copied to the clipboard.';
  } catch {
    $('sum-copied').textContent = 'The browser didn\u2019t allow copying; select the sentences and copy them instead.';
  }
}

// ---------------------------------------------------------------------------------------------
// Answers: where they came from, how long they took, and errors

/** Where an answer was computed, for its badge: "This device · GPU", "This device · CPU" or "Edge". */
function sourceText(result) {
  if (result.source !== 'local') return 'Edge';
  const engine = ENGINE_NAMES[result.engine];
  return engine ? `This device \u00b7 ${engine}` : 'This device';
}

/** Where an answer was computed, in a sentence: "on this device's CPU", "on the edge". */
function computedWhere(source, engine) {
  if (source !== 'local') return 'on the edge';
  const name = ENGINE_NAMES[engine];
  return name ? `on this device\u2019s ${name}` : 'on this device';
}

/** What the badge's tooltip says about the engine that computed the answer. */
const ENGINE_TITLES = {
  'wonnx-webgpu': 'Computed on this device\u2019s GPU (WebGPU)',
  'tract-wasm': 'Computed on this device\u2019s CPU (WebAssembly)',
  'tract-native': 'Computed on the edge server\u2019s CPU',
  'wonnx-wgpu': 'Computed on the edge server\u2019s GPU',
};

function showMeta(prefix, result, extra) {
  const meta = $(`${prefix}-meta`);
  const local = result.source === 'local';
  const t = result.timings ?? {};
  const parts = [`${ms(t.total)} total`];
  if (t.compute) parts.push(`${ms(t.compute)} compute`);
  if (!local && t.network) parts.push(`${ms(t.network)} network`);
  if (local && t.load > 1) parts.push(`${ms(t.load)} model load`);
  if (extra) parts.push(extra);
  const badge = el('span', { class: `source ${local ? 'source-local' : 'source-edge'}` }, sourceText(result));
  if (result.engine) {
    badge.dataset.engine = result.engine;
    if (ENGINE_TITLES[result.engine]) badge.title = ENGINE_TITLES[result.engine];
  }
  const children = [badge];
  const reason = describeReason(result.fallbackReason);
  if (reason) children.push(el('span', { class: 'reason' }, `because ${reason}`));
  children.push(el('span', { class: 'timings' }, parts.join(' \u00b7 ')));
  meta.replaceChildren(...children);
  meta.hidden = false;
}

/**
 * What to say when `model`'s answer needed the edge server and the edge can't be asked: the
 * device is offline, or the edge can't be reached (a network error: refused, reset, no route;
 * an HTTP error from the edge is worded by its code instead). Worded for the policy: "Edge
 * only" is told that this device could answer (when it can), the other policies that this
 * device couldn't either (the model isn't stored yet); "This device only" never asks the edge,
 * so its failures are worded by their code. Null when none of this is the case.
 */
function edgeDownText(model, e, policy) {
  const offline = !navigator.onLine || e.reason === 'offline' || e.code === 'offline';
  const unreachable = e.code === 'edge-unreachable' || e.reason === 'edge-unreachable';
  if ((!offline && !unreachable) || policy === 'local-only') return null;
  const what = model === SUMMARIZER ? 'the summarizer' : 'the destination recommender';
  const goal = model === SUMMARIZER ? 'summarize' : 'get destinations';
  const stored = model === SUMMARIZER ? summarizerStored() : recommenderState === 'ready';
  if (policy === 'edge-only') {
    const head = offline
      ? `You\u2019re offline, and your settings run ${what} on the edge server only. Reconnect to ${goal}`
      : `The edge server can\u2019t be reached right now, and ${what} runs there. Check your connection and try again`;
    if (stored && canRunHere()) {
      return `${head}, or choose another option under \u201cWhere models run\u201d to let this device answer: it is stored here.`;
    }
    return canRunHere()
      ? `${head}. To have this device answer offline, choose another option under \u201cWhere models run\u201d while online: it is then stored here.`
      : `${head}.`;
  }
  // prefer-edge, prefer-local, race, auto: this device was asked too, and couldn't answer.
  if (!stored) {
    const why = canRunHere() ? `${what} isn\u2019t stored on this device yet` : `this browser can\u2019t run ${what} itself`;
    return offline
      ? `You\u2019re offline, and ${why}, so nothing can answer. Reconnect to ${goal}${canRunHere() ? `; ${what} is then stored here for offline use` : ''}.`
      : `The edge server can\u2019t be reached right now, and ${why}. Check your connection and try again.`;
  }
  return null;
}

/**
 * Shows why an answer failed under its card. `override` replaces the worded code; `offline`
 * (the failure only says the device is offline) makes the alert go once it is back online.
 */
function showRunError(prefix, code, message, reason, override, policy, offline = false) {
  const box = $(`${prefix}-error`);
  const text = override ?? describeError(code, message, { edgeFallback: policy !== 'local-only' });
  const children = [text];
  const why = describeReason(reason);
  if (why && !override && reason !== code) children.push(` (Last try: ${why}.)`);
  if (isKnownError(code) && !override) children.push(' ', codeTag(code));
  box.replaceChildren(...children);
  setCode(box, code);
  setOffline(box, offline);
  box.hidden = false;
  $(`${prefix}-meta`).hidden = true;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  node.append(...children);
  return node;
}

/** A JSON value kept in localStorage, or null (missing, unreadable, or storage blocked). */
function readStored(key) {
  try {
    return JSON.parse(localStorage.getItem(key) ?? 'null');
  } catch {
    return null;
  }
}

function writeStored(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or blocked: the app works, it just won't remember.
  }
}

function alertBox(text) {
  return el('p', { class: 'alert' }, text);
}

/** Marks an alert as caused by being offline (`data-offline`), so that going online clears it. */
function setOffline(box, offline) {
  if (offline) box.dataset.offline = 'true';
  else delete box.dataset.offline;
}

/** Exposes the error code an alert words as its `data-code` (removed when there is none). */
function setCode(box, code) {
  if (code) box.dataset.code = code;
  else delete box.dataset.code;
}

function codeTag(code) {
  return el('code', { class: 'code' }, code ?? 'unknown');
}

function labelOf(f) {
  return f.label ?? pretty(f.name);
}

function pretty(word) {
  const s = String(word).replace(/[_-]+/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function bytes(n) {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} kB`;
  return `${n} B`;
}

function ms(value) {
  const v = Number(value) || 0;
  return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v < 10 ? 1 : 0)} ms`;
}

function withTimeout(promise, timeoutMs, code) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      const e = new Error(`no answer in ${timeoutMs} ms`);
      e.code = code;
      reject(e);
    }, timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Last, so every module-level binding above is initialized before it runs.
main();
