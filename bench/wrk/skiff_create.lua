-- POSTs a new application with a unique name per request.
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  counter = 0
  run = os.getenv("BENCH_RUN") or "0"
  template = os.getenv("SKIFF_APP")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  counter = counter + 1
  local name = "c" .. run .. "-" .. tid .. "-" .. counter
  local body = template:gsub('"name": "bench"', '"name": "' .. name .. '"', 1)
  return wrk.format(nil, nil, nil, body)
end
