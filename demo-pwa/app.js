// Wayfarer, the tessera demo PWA: a destination recommender that runs on this device (WebGPU,
// model stored offline by the tessera service worker) and an itinerary summarizer that runs on
// the edge. Uses tessera exactly as its README tells third parties to; no bundler, no framework.
import { Tessera } from './tessera-client.js';
import { TesseraRuntime } from './tessera-runtime.js';
import { describeError, describeReason, isKnownError } from './ui/messages.js';
import { encodePreferences, encodeSentences, sentenceScores, splitSentences, topInOrder } from './ui/encode.js';
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
  ['local-only', 'This device only', 'Your data never leaves this device; no answer without a usable GPU.', 'Only on your device'],
  ['edge-only', 'Edge only', 'Always runs on the edge server; needs a connection.', 'Only on the edge'],
];
const WHERE_BADGE = { [RECOMMENDER]: 'rec-where', [SUMMARIZER]: 'sum-where' };
const DEFAULT_POLICY = { [RECOMMENDER]: 'prefer-local', [SUMMARIZER]: 'prefer-edge' };
// The profile the form starts with (values travel.json doesn't offer are ignored); an unset group
// ("Any", no box ticked) reads as "no preference" to the model.
const SUGGESTED = {
  budget: 'moderate', season: 'summer', days: 10, interests: ['beaches'], pace: 'relaxed', party: 'couple',
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------------
// Startup

let runtime = null;
let runtimeError = null;
let travel = null;

async function main() {
  watchNetwork();
  setUpSettings();
  setUpSummarizer();
  $('dl-retry').addEventListener('click', () => download());
  $('dl-remove').addEventListener('click', () => removeModel());
  $('dl-check').addEventListener('click', () => checkForUpdate());

  const travelLoaded = loadTravel();
  const registered = registerWorker();
  const runtimeReady = createRuntime();
  await travelLoaded;
  if (await registered) download();
  await runtimeReady;
  checkDevice();
}

async function loadTravel() {
  try {
    const response = await fetch('travel.json');
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    travel = await response.json();
    buildPreferences(travel.features);
  } catch (e) {
    $('prefs-fields').replaceChildren(alertBox(`The destination catalogue couldn\u2019t be loaded (${e.message}).`));
    $('rec-run').disabled = true;
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

/** Says whether this device can run models itself (WebGPU), before anyone asks for an answer. */
async function checkDevice() {
  const line = $('device');
  if (!runtime) {
    line.textContent = `The inference runtime couldn\u2019t start: ${describeError(runtimeError?.code, runtimeError?.message)}`;
    return;
  }
  try {
    const caps = await runtime.capabilities();
    line.textContent = caps.isFallbackAdapter
      ? 'WebGPU available (software adapter): the recommender runs on this device, slowly.'
      : 'WebGPU available: the recommender runs on this device.';
    line.classList.add('device-ok');
  } catch (e) {
    line.textContent = describeError(e.code, e.message, { edgeFallback: policies[RECOMMENDER] !== 'local-only' });
    line.classList.add('device-warn');
  }
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

async function download() {
  if (downloading) return;
  downloading = true;
  $('dl-error').hidden = true;
  $('dl-retry').hidden = true;
  renderStatus({ state: 'checking', bytesDone: 0, bytesTotal: 0, shardsDone: 0, shardsTotal: 0 });
  const unsubscribe = Tessera.onProgress((s) => { if (s.model === RECOMMENDER) renderStatus(s); });
  try {
    renderStatus(await Tessera.ensureModel(RECOMMENDER, { onProgress: renderStatus }));
    warmUp();
  } catch (e) {
    showDownloadError(e.code, e.message, true);
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
  runtime.load(RECOMMENDER).catch(() => {});
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

async function removeModel() {
  $('dl-remove').disabled = true;
  try {
    await Tessera.remove(RECOMMENDER);
    renderStatus({ state: 'absent', bytesDone: 0, bytesTotal: 0, shardsDone: 0, shardsTotal: 0 });
    $('dl-retry').textContent = 'Download again';
    $('dl-retry').hidden = false;
  } catch (e) {
    showDownloadError(e.code, e.message, false);
  } finally {
    $('dl-remove').disabled = false;
  }
}

function renderStatus(s) {
  if (!s) return;
  if (s.state === 'error' && s.error) {
    showDownloadError(s.error.code, s.error.message, true);
    return;
  }
  if (s.version) servingVersion = s.version;
  const total = s.bytesTotal || 0;
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

function showDownloadError(code, message, retry) {
  $('dl-state').textContent = STATE_TEXT.error;
  $('dl-state').className = 'state state-error';
  $('dl-bar').classList.add('bar-error');
  const box = $('dl-error');
  box.replaceChildren(describeError(code, message));
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
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Recommender

function buildPreferences(features) {
  const fields = features.map((f) => {
    if (f.kind === 'choice') return f.options.length <= 4 ? radioGroup(f) : selectField(f);
    if (f.kind === 'multi') return checkboxGroup(f);
    if (f.kind === 'scalar') return rangeField(f);
    return null;
  }).filter(Boolean);
  $('prefs-fields').replaceChildren(...fields);
  $('prefs').addEventListener('submit', (event) => {
    event.preventDefault();
    recommend();
  });
}

function radioGroup(f) {
  const set = fieldset(f);
  const row = el('div', { class: 'pills' });
  const start = f.options.includes(SUGGESTED[f.name]) ? SUGGESTED[f.name] : '';
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

function selectField(f) {
  const id = `pref-${f.name}`;
  const select = el('select', { id, name: f.name });
  select.append(new Option('Any', ''));
  for (const option of f.options) select.append(new Option(pretty(option), option));
  select.value = f.options.includes(SUGGESTED[f.name]) ? SUGGESTED[f.name] : '';
  return el('div', { class: 'group field' }, el('label', { for: id }, labelOf(f)), select);
}

function checkboxGroup(f) {
  const set = fieldset(f, true);
  const row = el('div', { class: 'pills' });
  const start = SUGGESTED[f.name] ?? [];
  f.options.forEach((option) => {
    const input = el('input', { type: 'checkbox', name: f.name, value: option });
    input.checked = start.includes(option);
    row.append(el('label', { class: 'pill pill-check' }, input, el('span', {}, pretty(option))));
  });
  set.append(row, ...groupHelp(f));
  return set;
}

function rangeField(f) {
  const id = `pref-${f.name}`;
  const step = f.step ?? (Number.isInteger(f.min) && Number.isInteger(f.max) ? 1 : 'any');
  const suggested = Number(SUGGESTED[f.name]);
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
  const policy = policies[RECOMMENDER];
  button.textContent = policy === 'edge-only' || policy === 'prefer-edge' ? 'Asking the edge\u2026' : 'Thinking on your device\u2026';
  const data = encodePreferences(travel.features, readPreferences(), travel.width ?? 64);
  try {
    const result = await runtime.run(RECOMMENDER, { features: { dtype: 'float32', shape: [1, data.length], data } }, { policy });
    const top = showDestinations(result.outputs.scores.data);
    showMeta('rec', result);
    $('rec-announce').textContent = `${top.length} destinations, computed ${result.source === 'local' ? 'on this device' : 'on the edge'}. Top match: ${top[0]?.name}, ${top[0]?.country}.`;
  } catch (e) {
    const edgeDown = e.code === 'edge-unreachable' || e.reason === 'edge-unreachable' || e.reason === 'offline'
      ? edgeDownText(RECOMMENDER, e) : null;
    showRunError('rec', e.code, e.message, e.reason, edgeDown, policy, (Boolean(edgeDown) && offlineFailure(e)) || localOffline(e));
  } finally {
    recommending = false;
    if (reloadPending) reloadModel();
    button.disabled = false;
    button.textContent = 'Find destinations';
    $('rec-out').setAttribute('aria-busy', 'false');
  }
}

function showDestinations(scores) {
  const n = Math.min(scores.length, travel.destinations.length);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i += 1) { lo = Math.min(lo, scores[i]); hi = Math.max(hi, scores[i]); }
  const order = [...Array(n).keys()].sort((a, b) => scores[b] - scores[a]).slice(0, TOP_DESTINATIONS);
  const items = order.map((i, rank) => {
    const d = travel.destinations[i];
    const match = hi > lo ? Math.round(((scores[i] - lo) / (hi - lo)) * 100) : 100;
    const meter = el('meter', { min: 0, max: 100, value: match, 'aria-label': `${match} percent match` });
    return el('li', { class: 'dest' },
      el('span', { class: 'dest-rank', 'aria-hidden': 'true' }, String(rank + 1)),
      el('div', { class: 'dest-body' },
        el('h3', {}, d.name, el('span', { class: 'dest-country' }, ` \u00b7 ${d.country}`)),
        el('p', { class: 'dest-blurb' }, d.blurb),
        el('div', { class: 'dest-score' }, meter, el('span', { class: 'dest-match' }, `${match}% match`))));
  });
  $('rec-error').hidden = true;
  $('rec-list').replaceChildren(...items);
  return order.map((i) => travel.destinations[i]);
}

// ---------------------------------------------------------------------------------------------
// Summarizer

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
  $('summary-form').addEventListener('submit', (event) => {
    event.preventDefault();
    summarize();
  });
}

let summarizing = false;

async function summarize() {
  if (summarizing) return;
  const dims = travel?.summarizer?.dims ?? 256;
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
    $('sum-brief').hidden = false;
    $('sum-error').hidden = true;
    showMeta('sum', result, `${k} of ${sentences.length} sentences`);
    $('sum-announce').textContent = `Brief ready: ${k} key sentences, computed ${result.source === 'local' ? 'on this device' : 'on the edge'}.`;
  } catch (e) {
    const edgeDown = edgeDownText(SUMMARIZER, e);
    showRunError('sum', e.code, e.message, e.reason, edgeDown, policy, (Boolean(edgeDown) && offlineFailure(e)) || localOffline(e));
  } finally {
    summarizing = false;
    if (reloadPending) reloadModel();
    button.disabled = false;
    button.textContent = 'Summarize';
    $('sum-out').setAttribute('aria-busy', 'false');
  }
}

// ---------------------------------------------------------------------------------------------
// Answers: where they came from, how long they took, and errors

function showMeta(prefix, result, extra) {
  const meta = $(`${prefix}-meta`);
  const local = result.source === 'local';
  const t = result.timings ?? {};
  const parts = [`${ms(t.total)} total`];
  if (t.compute) parts.push(`${ms(t.compute)} compute`);
  if (!local && t.network) parts.push(`${ms(t.network)} network`);
  if (local && t.load > 1) parts.push(`${ms(t.load)} model load`);
  if (extra) parts.push(extra);
  const children = [
    el('span', { class: `source ${local ? 'source-local' : 'source-edge'}` }, local ? 'On-device' : 'Edge'),
  ];
  const reason = describeReason(result.fallbackReason);
  if (reason) children.push(el('span', { class: 'reason' }, `because ${reason}`));
  children.push(el('span', { class: 'timings' }, parts.join(' \u00b7 ')));
  meta.replaceChildren(...children);
  meta.hidden = false;
}

/**
 * What to say when `model`'s answer needed the edge server and the edge can't be asked: the
 * device is offline, or the edge can't be reached (a network error: refused, reset, no route;
 * an HTTP error from the edge is worded by its code instead). Null when neither is the case.
 */
function edgeDownText(model, e) {
  const what = model === SUMMARIZER ? 'the summarizer' : 'the destination recommender';
  const goal = model === SUMMARIZER ? 'summarize' : 'get destinations';
  const instead = '(or choose \u201cThis device only\u201d in settings if this device can run it)';
  if (!navigator.onLine || e.reason === 'offline') {
    return `You\u2019re offline, and ${what} runs on the edge server. Reconnect to ${goal} ${instead}.`;
  }
  if (e.code === 'edge-unreachable' || e.reason === 'edge-unreachable') {
    return `The edge server can\u2019t be reached right now, and ${what} runs there. Check your connection and try again ${instead}.`;
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
