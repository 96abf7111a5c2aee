-- wrk script for `sealchain bench`: POST (or GET) each line of a file once, then cycle.
-- Run with one wrk thread so every request takes the next line exactly once.
local bodies, counter, method, connection = {}, 0, "GET", "keep-alive"

init = function(args)
  method = args[1]
  connection = args[3] or "keep-alive"
  if args[2] then
    for line in io.lines(args[2]) do
      if line ~= "" then bodies[#bodies + 1] = line end
    end
  end
end

request = function()
  counter = counter + 1
  if method == "GET" then
    if #bodies > 0 then
      return wrk.format("GET", bodies[(counter - 1) % #bodies + 1], {["Accept"] = "application/json"})
    end
    return wrk.format("GET", wrk.path)
  end
  local body = bodies[(counter - 1) % #bodies + 1]
  return wrk.format("POST", wrk.path,
    {["Content-Type"] = "application/json", ["Connection"] = connection}, body)
end

done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    '\nSEALCHAIN {"requests": %d, "errors": %d, "seconds": %.6f, "p50_ms": %.3f, "p99_ms": %.3f}\n',
    summary.requests, errors, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
