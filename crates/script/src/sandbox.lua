-- Run once when a shard's Lua state is made (see lib.rs, `Engine::new`). Arguments: the
-- real globals table, and the Rust primitives the wrappers below expose to scripts.
-- Everything a script can reach is read-only afterwards, as in Redis 7.0 (which patches
-- Lua for read-only tables; here each protected table is an empty proxy over the real one).
local G, prim, functions = ...

local error, type, select, tostring, rawget, rawset, rawequal =
    error, type, select, tostring, rawget, rawset, rawequal
local setmetatable, getmetatable, raw_next, unpack =
    setmetatable, getmetatable, next, unpack
local floor = math.floor

-- proxy -> real table, for the iteration and raw access functions below.
local real = setmetatable({}, { __mode = 'k' })

local function readonly()
  error('Attempt to modify a readonly table', 2)
end



local function protect(t)
  local p = {}
  real[p] = t
  setmetatable(p, { __index = t, __newindex = readonly, __metatable = false })
  return p
end

-- redis.call, redis.pcall and the functions whose failures Redis raises as error tables
-- (luaPushError + luaError) are C functions made in lib.rs (`raising`), so that a script's
-- `return redis.call(...)` keeps its own frame, as it does in Redis, and errors point at it.
local redis = prim.redis
for _, name in ipairs({ 'call', 'pcall', 'sha1hex', 'log', 'setresp', 'set_repl', 'acl_check_cmd' }) do
  redis[name] = prim[name]
end
redis.error_reply = prim.error_reply
redis.status_reply = prim.status_reply
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end

-- Redis' pcall: an error table raised by redis.call is caught as its message (a C
-- function made in lib.rs, `redis_pcall`).
G.pcall = prim.pcall_c

-- math.random and math.randomseed on Redis' rand48 (C functions made in lib.rs).
math.random, math.randomseed = prim.random, prim.randomseed

-- Raw access and iteration see through the proxies; writes to them are refused.
local checked = prim.checked
local function next_impl(t, k)
  return raw_next(real[t] or t, k)
end
G.next = checked('next', next_impl)
G.pairs = checked('pairs', function(t) return next_impl, t, nil end)
local function inext(t, i)
  i = i + 1
  local v = (real[t] or t)[i]
  if v ~= nil then return i, v end
end
G.ipairs = checked('ipairs', function(t) return inext, t, 0 end)
G.rawget = function(t, k)
  return rawget(real[t] or t, k)
end
G.rawset = function(t, k, v)
  if real[t] then error('Attempt to modify a readonly table', 0) end
  return rawset(t, k, v)
end
G.setmetatable = function(t, mt)
  if real[t] then error('Attempt to modify a readonly table', 2) end
  return setmetatable(t, mt)
end

-- Globals Redis does not give scripts.
G.print, G.dofile, G.loadfile, G.module, G.require, G.package = nil, nil, nil, nil, nil, nil

-- Every library table becomes read-only.
for _, name in ipairs({ 'string', 'table', 'math', 'coroutine', 'cjson', 'bit', 'struct', 'cmsgpack' }) do
  if rawget(G, name) ~= nil then rawset(G, name, protect(rawget(G, name))) end
end
rawset(G, 'redis', protect(redis))
-- Strings' methods come from the library table scripts see.
getmetatable('').__index = rawget(G, 'string')

-- The globals: reading a missing one is an error, and none can be set.
setmetatable(G, {
  __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
  __metatable = false,
})
if not functions then
  local env = protect(G)
  rawset(G, '_G', env)
  return env
end

-- A functions state (Redis' function engine): while FUNCTION LOAD runs a library's code,
-- the globals are only the library API (`redis` with register_function, log, the log
-- levels and the version); anything else, there or in `redis`, is a missing global. When
-- a function runs, they are the full ones again.
local function strict(t)
  local p = {}
  real[p] = t
  setmetatable(p, {
    __index = function(_, k)
      local v = rawget(t, k)
      if v == nil then
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
      end
      return v
    end,
    __newindex = readonly,
    __metatable = false,
  })
  return p
end
local lib_redis = { register_function = prim.register_function, log = redis.log }
for _, k in ipairs({ 'LOG_DEBUG', 'LOG_VERBOSE', 'LOG_NOTICE', 'LOG_WARNING', 'REDIS_VERSION', 'REDIS_VERSION_NUM' }) do
  lib_redis[k] = redis[k]
end
local library_api = strict({ redis = strict(lib_redis) })
local env_mt = { __index = G, __newindex = readonly, __metatable = false }
local env = setmetatable({}, env_mt)
real[env] = G
rawset(G, '_G', env)
return env, function(loading)
  env_mt.__index = loading and library_api or G
end
