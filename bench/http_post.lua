-- wrk script for bench/http_append.sh: every request POSTs one entry with
-- 256 bytes of data to /v1/entries (keep-alive; wrk opens -c connections).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local data = string.rep("x", 256)
local n = 0
request = function()
  n = n + 1
  local body = '{"type":"session","op":"update","path":"bench/s' .. (n % 1000) ..
      '","data":"' .. data .. '"}'
  return wrk.format(nil, nil, nil, body)
end
-- Answers other than 2xx show in wrk's "Non-2xx or 3xx responses" line,
-- which http_append.sh reports beside the rate.
