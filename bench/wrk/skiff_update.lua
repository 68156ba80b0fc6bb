-- PATCHes an annotation of one of the 1,000 preloaded applications: a durable write of the whole
-- object (annotations, unlike spec, make no new revision, so only the API path is measured).
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  counter = 0
  wrk.method = "PATCH"
  wrk.headers["Content-Type"] = "application/merge-patch+json"
end
function request()
  counter = counter + 1
  local path = wrk.path .. "/app-" .. ((counter * 7 + tid * 500) % 1000)
  local body = '{"metadata":{"annotations":{"bench/counter":"' .. tid .. "-" .. counter .. '"}}}'
  return wrk.format(nil, path, nil, body)
end
