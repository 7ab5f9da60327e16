/**
 * The longest time the event loop went without running a 1 ms timer, from `start` to `stop`: how long a
 * gateway call arriving meanwhile could have waited. (perf_hooks' monitorEventLoopDelay misses a block
 * that ends the measured span, since it records a delay only when its timer next fires.)
 */
export function watchEventLoop(): { stop(): number } {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(longest, performance.now() - last);
    },
  };
}
