// Child process for the ref/unref test (test/xen/xenstore.test.ts). Opens XenStore, watches
// argv key with a ref'd or unref'd watch and never closes the connection:
//  - unref: prints "watching" and must exit by itself (the watch does not hold the loop);
//  - ref:   prints "watching", stays alive until the parent writes <key>/stop, prints
//           "got stop", unwatches, and must then exit by itself.
import { openXenStore } from '../src/hosts/xen/xenstore.ts';

const [socketPath, mode, key] = process.argv.slice(2);
if (!socketPath || (mode !== 'ref' && mode !== 'unref') || !key) {
  console.error('usage: xs-watch-child.ts SOCKET ref|unref KEY');
  process.exit(2);
}
const xs = await openXenStore({ socketPath });
const w = await xs.watch(key, 'child', (path) => {
  if (path === `${key}/stop`) {
    console.log('got stop');
    void w.unwatch();
  }
});
if (mode === 'unref') w.unref();
console.log('watching');
