-- wrk script for `make bench`: sends the bearer token from BENCH_TOKEN when it
-- is set, and prints one machine-readable line when the run is done:
-- "BENCH requests requests_per_second p50_ms p99_ms non_2xx_3xx socket_errors".
local token = os.getenv("BENCH_TOKEN")
if token ~= nil and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
end

function done(summary, latency, requests)
    local errors = summary.errors
    io.write(string.format("BENCH %d %.0f %.3f %.3f %d %d\n", summary.requests,
        summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
        latency:percentile(99) / 1000, errors.status,
        errors.connect + errors.read + errors.write + errors.timeout))
end
