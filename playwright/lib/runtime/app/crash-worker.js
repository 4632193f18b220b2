// A runtime worker that dies like a trapped wasm instance (an uncaught WebAssembly.RuntimeError
// in the worker) on its first `run` in this browser profile, for the scenarios of the page's
// crash handling. The worker the page spawns next finds the mark left in Cache Storage and runs
// normally, so the respawn can be seen to work.
import './tessera-runtime-worker.js';

const MARK = 'tessera-test-crashed-once';
const real = self.onmessage;
self.onmessage = async (event) => {
  if (event.data?.op === 'run' && !(await caches.has(MARK))) {
    await caches.open(MARK);
    setTimeout(() => {
      throw new WebAssembly.RuntimeError('unreachable');
    });
    return;
  }
  real(event);
};
