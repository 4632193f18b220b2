// A runtime worker that dies like a trapped wasm instance on its first `run` (an uncaught
// error in the worker), for the smoke test of the page's crash handling.
import './tessera-runtime-worker.js';

const real = self.onmessage;
self.onmessage = (event) => {
  if (event.data && event.data.op === 'run') {
    setTimeout(() => {
      throw new WebAssembly.RuntimeError('unreachable');
    });
    return;
  }
  real(event);
};
