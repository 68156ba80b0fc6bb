-- Puts a new key per request (the value is the same application JSON Skiff stores).
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local function b64(s)
  local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  return ((s:gsub(".", function(x)
    local r, b = "", x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return chars:sub(c + 1, c + 1)
  end) .. ({"", "==", "="})[#s % 3 + 1])
end
function init(args)
  counter = 0
  run = os.getenv("BENCH_RUN") or "0"
  value = os.getenv("ETCD_VALUE")
  wrk.method = "POST"
  encode = b64
end
function request()
  counter = counter + 1
  local key = encode(keyname(counter))
  return wrk.format(nil, nil, nil, '{"key":"' .. key .. '","value":"' .. value .. '"}')
end
function keyname(n)
  return "/bench/new/" .. run .. "-" .. tid .. "-" .. n
end
