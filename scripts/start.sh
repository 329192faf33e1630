#!/bin/sh
# `npm start`: the server, with an allocator that gives memory back (README, "Memory"). glibc's
# malloc keeps what large requests freed (2.6x the RSS after the first model load, measured);
# jemalloc returns it within seconds. Allocators read their settings only at process start, so
# they are chosen here, before node runs. An operator's own LD_PRELOAD or MALLOC_MMAP_THRESHOLD_ wins.
if [ -z "${LD_PRELOAD:-}" ] && [ -z "${MALLOC_MMAP_THRESHOLD_:-}" ]; then
  for lib in /usr/local/lib/libjemalloc.so.2 "/usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2" /usr/lib64/libjemalloc.so.2; do
    if [ -f "$lib" ]; then
      export LD_PRELOAD="$lib"
      break
    fi
  done
  # No jemalloc: glibc with a fixed mmap threshold, so 64 KiB and larger blocks (socket reads,
  # bodies, pixels) are mapped and unmapped one by one instead of fragmenting its heaps.
  if [ -z "${LD_PRELOAD:-}" ]; then export MALLOC_MMAP_THRESHOLD_=65536; fi
fi
exec node dist/src/main.js "$@"
