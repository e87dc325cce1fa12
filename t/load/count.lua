-- wrk script: counts the answers by HTTP status, and for PATCH /api/me
-- (WRK_PATCH_ME=1) sends a phone number no other request sends and writes
-- each phone a 200 answer confirms to $WRK_OUT/ok.<thread>, one a line.
--
--   wrk -s t/load/count.lua ... ; the last lines of its output are
--   "status <code> <count>" and "errors <kind> <count>"

local threads = {}
local counter = 1

function setup(thread)
    thread:set("id", counter)
    table.insert(threads, thread)
    counter = counter + 1
end

function init(args)
    statuses = {}
    n = 0
    patch = os.getenv("WRK_PATCH_ME") == "1"
    run = os.getenv("WRK_RUN") or tostring(os.time())
    if patch then
        out = io.open((os.getenv("WRK_OUT") or ".") .. "/ok." .. id, "w")
        out:setvbuf("line")
    end
end

function request()
    if not patch then
        return wrk.request()
    end
    n = n + 1
    -- "+<run> <thread> <n>": unique across threads and runs, a valid phone
    local phone = string.format("+%s %d %d", run, id, n)
    return wrk.format("PATCH", nil, nil, '{"phone":"' .. phone .. '"}')
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
    if patch and status == 200 then
        local phone = string.match(body, '"phone":%s*"([^"]*)"')
        if phone then out:write(phone, "\n") end
    end
end

function done(summary, latency, requests)
    local total = {}
    for _, t in ipairs(threads) do
        local s = t:get("statuses")
        for code, c in pairs(s or {}) do
            total[code] = (total[code] or 0) + c
        end
    end
    for code, c in pairs(total) do
        io.write(string.format("status %d %d\n", code, c))
    end
    local e = summary.errors
    io.write(string.format("errors connect %d\nerrors read %d\nerrors write %d\nerrors timeout %d\nerrors status %d\n",
        e.connect, e.read, e.write, e.timeout, e.status))
    io.write(string.format("requests %d\nduration_us %d\n", summary.requests, summary.duration))
    for _, p in ipairs({ 50, 90, 99, 99.9 }) do
        io.write(string.format("latency_p%s_us %d\n", p, latency:percentile(p)))
    end
    io.write(string.format("latency_max_us %d\n", latency.max))
end
