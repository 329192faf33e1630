/**
 * Preloaded into a Lathe process by the process-error test (`node --import <this> main.js`):
 * SIGUSR2 raises errors outside any request the way a background loop would. The first signal
 * throws a database fault from a timer and leaves one rejected promise unhandled; the second throws
 * a bug.
 */
let signals = 0;

process.on('SIGUSR2', () => {
  signals += 1;
  if (signals === 1) {
    setTimeout(() => {
      throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    }, 0);
    void Promise.reject(new Error('Query read timeout'));
    return;
  }
  setTimeout(() => {
    throw new TypeError('a bug outside any request');
  }, 0);
});
