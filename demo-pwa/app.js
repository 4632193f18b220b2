// Shows what the edge server publishes for the sample model: the DSSE envelope's manifest.
// (Display only: browsers verify signatures in the service worker, not here.)
const status = document.getElementById('status');
const table = document.getElementById('files');

async function show() {
  const res = await fetch('/models/sample/manifest.json');
  if (!res.ok) throw new Error(`manifest: HTTP ${res.status}`);
  const envelope = await res.json();
  const manifest = JSON.parse(atob(envelope.payload));
  status.textContent = `${manifest.name} ${manifest.version}, signed by ${envelope.signatures.length} key(s), expires ${new Date(manifest.expires_at * 1000).toISOString()}`;
  const body = table.querySelector('tbody');
  for (const file of manifest.files) {
    const row = body.insertRow();
    const link = document.createElement('a');
    link.href = `/models/${manifest.name}/${file.path}`;
    link.textContent = file.path;
    row.insertCell().append(link);
    row.insertCell().textContent = `${(file.size / 1048576).toFixed(1)} MiB`;
    row.insertCell().textContent = String(file.shards.length);
    const code = document.createElement('code');
    code.textContent = file.sha256;
    row.insertCell().append(code);
  }
  table.hidden = false;
}

show().catch((err) => { status.textContent = `Could not load the manifest: ${err.message}`; });
