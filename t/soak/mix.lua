-- wrk script of make soak: a mix of what signed-in users do.
--   SOAK_COOKIES   session cookies, space separated (one user each)
--   SOAK_CREATORS  session cookies of the users who create requests (new
--                  EU Login users: a user who asked for thousands of roles
--                  has a /api/me of thousands of roles, not what is soaked)
--   SOAK_CB        a control body id, for new operators
--   SOAK_DELAY_MS  pause before each request of a connection (pacing)
-- Per 20 requests: 6 gated pages, 6 GET /api/me, 6 certificate lists (two
-- filters), 1 operator search, 1 request creation (a new operator with the
-- caller's request, POST /api/operators -> 201).

local counter = 1
local threads = {}

function setup(thread)
    thread:set("id", counter)
    table.insert(threads, thread)
    counter = counter + 1
end

function init(args)
    cookies = {}
    for c in string.gmatch(os.getenv("SOAK_COOKIES") or "", "%S+") do
        table.insert(cookies, c)
    end
    creators = {}
    for c in string.gmatch(os.getenv("SOAK_CREATORS") or "", "%S+") do
        table.insert(creators, c)
    end
    cb = os.getenv("SOAK_CB") or "1"
    pause = tonumber(os.getenv("SOAK_DELAY_MS") or "0")
    run = os.getenv("SOAK_RUN") or "0"
    n = 0
    statuses = {}
    origin = os.getenv("SOAK_ORIGIN")
end

local pages = { "/app/", "/app/certificates", "/app/profile" }

function request()
    n = n + 1
    local h = { Cookie = cookies[(n % #cookies) + 1], Accept = "application/json" }
    local k = n % 20
    if k < 6 then
        h.Accept = "text/html"
        return wrk.format("GET", pages[(n % #pages) + 1], h)
    elseif k < 12 then
        return wrk.format("GET", "/api/me", h)
    elseif k < 15 then
        return wrk.format("GET", "/api/certificates?limit=20", h)
    elseif k < 18 then
        return wrk.format("GET", "/api/certificates?status=issued&limit=50", h)
    elseif k < 19 then
        return wrk.format("GET", "/api/operators?country=FR&name=Bio", h)
    else
        h.Cookie = creators[(n % #creators) + 1]
        h["Content-Type"] = "application/json"
        h.Origin = origin
        local body = string.format(
            '{"name":"Soak %s-%d-%d","country":"FR","city":"Lyon","address":"1 quai",' ..
            '"identifiers":[{"type":"eori","value":"FR123456789"}],' ..
            '"activity":{"activity":"organic_importer","control_body_id":%s},' ..
            '"request":{"message":"soak"}}', run, id, n, cb)
        return wrk.format("POST", "/api/operators", h, body)
    end
end

function delay()
    return pause
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local total = {}
    for _, t in ipairs(threads) do
        for code, c in pairs(t:get("statuses") or {}) do
            total[code] = (total[code] or 0) + c
        end
    end
    for code, c in pairs(total) do
        io.write(string.format("status %d %d\n", code, c))
    end
    local e = summary.errors
    io.write(string.format("socket_errors %d\n", e.connect + e.read + e.write + e.timeout))
    io.write(string.format("requests %d\nduration_us %d\n", summary.requests, summary.duration))
    io.write(string.format("rps %.1f\n", summary.requests / (summary.duration / 1e6)))
    for _, p in ipairs({ 50, 90, 99, 99.9 }) do
        io.write(string.format("p%s_ms %.2f\n", p, latency:percentile(p) / 1000))
    end
    io.write(string.format("max_ms %.2f\nmean_ms %.2f\n", latency.max / 1000, latency.mean / 1000))
end
