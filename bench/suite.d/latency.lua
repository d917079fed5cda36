-- bench/suite: wrk -s latency.lua prints, after its summary, the latency
-- percentiles its --latency table leaves out (p99.9), in µs, raw (no
-- coordinated-omission correction), one "name value" per line.
function done(summary, latency, requests)
  for _, p in ipairs({ 50, 99, 99.9 }) do
    io.write(string.format("suite_p%s_us %d\n", p, latency:percentile(p)))
  end
end
