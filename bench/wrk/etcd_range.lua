-- Reads one key through etcd's v3 JSON gateway.
function init(args)
  wrk.method = "POST"
  wrk.body = '{"key":"' .. "YmVuY2g=" .. '"}'
end
