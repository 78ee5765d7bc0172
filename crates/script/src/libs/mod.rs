//! The C libraries Redis links into its Lua (cjson, cmsgpack, bit, struct), written in Rust
//! to behave as Redis' copies do.

pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod structlib;

use std::os::raw::c_int;

use mlua::{ffi, Function, LightUserData, Lua, MultiValue, Table, Value};

/// An error raised to the script the way the C libraries raise theirs.
///
/// mlua turns a callback's `Err` into a userdata error object; a script that catches the
/// error of a Redis library function with `pcall` expects a string instead. So library
/// functions report these errors as values, and a small C closure around them raises the
/// string with `lua_error`, from a C frame, as `luaL_error` and `luaL_argerror` would.
pub(crate) enum Raise {
    /// `luaL_error`: the message, prefixed with the position of the calling Lua code.
    Error(Vec<u8>),
    /// `luaL_argerror`: "bad argument #n to 'name' (message)", with the name Lua sees.
    Arg(i32, Vec<u8>),
    /// An error raised by Lua itself while a C function runs (`lua_settable` with a nil key,
    /// ...): the message as is, without a position.
    Raw(Vec<u8>),
    /// Any other error (allocation, ...), propagated as mlua raises it.
    Lua(mlua::Error),
}

impl From<mlua::Error> for Raise {
    fn from(e: mlua::Error) -> Self {
        Raise::Lua(e)
    }
}

impl Raise {
    pub(crate) fn msg(m: impl Into<Vec<u8>>) -> Self {
        Raise::Error(m.into())
    }

    pub(crate) fn arg(n: usize, m: impl Into<Vec<u8>>) -> Self {
        Raise::Arg(n as i32, m.into())
    }

    /// `luaL_typerror`: "bad argument #n to 'f' (number expected, got nil)".
    pub(crate) fn type_error(n: usize, expected: &str, got: Option<&Value>) -> Self {
        Raise::arg(n, format!("{expected} expected, got {}", type_name(got)))
    }
}

pub(crate) type LibResult<T> = Result<T, Raise>;

static ERROR_MARK: u8 = 0;
static ARG_MARK: u8 = 0;
static MANY_MARK: u8 = 0;
static RAW_MARK: u8 = 0;

/// Results beyond this many are handed to the C closure in a table: mlua returns a callback's
/// results on a stack it shares with the arguments and its own bookkeeping, which would cap
/// them a few slots short of what a C function can return.
const MANY: usize = 64;

/// Returns the `n` values of `t` (at 1..=n) as the results of a library function.
pub(crate) fn table_results(t: Table, n: usize) -> LibResult<MultiValue> {
    if n <= MANY {
        let mut values = Vec::with_capacity(n);
        for i in 1..=n {
            values.push(t.raw_get(i)?);
        }
        return Ok(MultiValue::from_iter(values));
    }
    Ok(MultiValue::from_iter([
        mark(&MANY_MARK),
        Value::Integer(n as i64),
        Value::Table(t),
    ]))
}

/// Returns `values` as the results of a library function, however many they are.
pub(crate) fn results(lua: &Lua, values: Vec<Value>) -> LibResult<MultiValue> {
    if values.len() <= MANY {
        return Ok(MultiValue::from_iter(values));
    }
    let n = values.len();
    let t = lua.create_table_with_capacity(n, 0)?;
    for (i, v) in values.into_iter().enumerate() {
        t.raw_set(i + 1, v)?;
    }
    Ok(MultiValue::from_iter([
        mark(&MANY_MARK),
        Value::Integer(n as i64),
        Value::Table(t),
    ]))
}

fn mark(m: &'static u8) -> Value {
    Value::LightUserData(LightUserData(m as *const u8 as *mut _))
}

/// Creates a library function: a C closure (so that errors carry the position and function
/// name `luaL_error` and `luaL_argerror` give them) around the Rust implementation `f`, which
/// receives the arguments as the C function sees its stack.
pub(crate) fn c_function<F>(lua: &Lua, f: F) -> mlua::Result<Function>
where
    F: Fn(&Lua, MultiValue) -> LibResult<MultiValue> + mlua::MaybeSend + 'static,
{
    let inner = lua.create_function(move |lua, args: MultiValue| match f(lua, args) {
        Ok(v) => Ok(v),
        Err(Raise::Error(msg)) => Ok(MultiValue::from_iter([
            mark(&ERROR_MARK),
            Value::String(lua.create_string(msg)?),
        ])),
        Err(Raise::Arg(n, msg)) => Ok(MultiValue::from_iter([
            mark(&ARG_MARK),
            Value::Integer(n.into()),
            Value::String(lua.create_string(msg)?),
        ])),
        Err(Raise::Raw(msg)) => Ok(MultiValue::from_iter([
            mark(&RAW_MARK),
            Value::String(lua.create_string(msg)?),
        ])),
        Err(Raise::Lua(e)) => Err(e),
    })?;
    // SAFETY: `exec_raw` runs the closure in protected mode with `inner` on the stack;
    // `lua_pushcclosure` pops it as the upvalue of `trampoline` and pushes the closure.
    unsafe { lua.exec_raw(inner, |state| ffi::lua_pushcclosure(state, trampoline, 1)) }
}

/// Calls the Rust implementation (upvalue 1) with all arguments and either returns its
/// results or raises the error it reported.
unsafe extern "C-unwind" fn trampoline(state: *mut ffi::lua_State) -> c_int {
    let nargs = ffi::lua_gettop(state);
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, nargs, ffi::LUA_MULTRET);
    let nres = ffi::lua_gettop(state);
    if nres > 0 && ffi::lua_type(state, 1) == ffi::LUA_TLIGHTUSERDATA {
        let p = ffi::lua_touserdata(state, 1) as *const u8;
        if std::ptr::eq(p, &ERROR_MARK) {
            ffi::luaL_where(state, 1);
            ffi::lua_pushvalue(state, 2);
            ffi::lua_concat(state, 2);
            ffi::lua_error(state);
        }
        if std::ptr::eq(p, &RAW_MARK) {
            ffi::lua_settop(state, 2);
            ffi::lua_error(state);
        }
        if std::ptr::eq(p, &ARG_MARK) {
            let n = ffi::lua_tointeger(state, 2) as c_int;
            let msg = ffi::lua_tolstring(state, 3, std::ptr::null_mut());
            return ffi::luaL_argerror(state, n, msg);
        }
        if std::ptr::eq(p, &MANY_MARK) {
            let n = ffi::lua_tointeger(state, 2) as c_int;
            // Keep only the table below the results.
            ffi::lua_replace(state, 1);
            ffi::lua_settop(state, 1);
            if ffi::lua_checkstack(state, n) == 0 {
                // luaL_checkstack's error (mlua's own version asks for 20 more slots).
                ffi::luaL_where(state, 1);
                ffi::lua_pushstring(state, c"stack overflow (too many results)".as_ptr());
                ffi::lua_concat(state, 2);
                ffi::lua_error(state);
            }
            for i in 1..=n {
                ffi::lua_rawgeti(state, 1, i as _);
            }
            return n;
        }
    }
    nres
}

/// A function doing `lua_next` on a table: `(table, key)` gives the next key and value, or
/// nothing at the end. It lets iterations pause while other work goes on, holding no more than
/// the table and the current key.
pub(crate) fn raw_next(lua: &Lua) -> mlua::Result<Function> {
    unsafe extern "C-unwind" fn next(state: *mut ffi::lua_State) -> c_int {
        ffi::lua_settop(state, 2);
        if ffi::lua_next(state, 1) != 0 {
            2
        } else {
            0
        }
    }
    // SAFETY: `next` is called with a table and a key of that table (or nil).
    unsafe { lua.create_c_function(next) }
}

/// `luaL_typename`: the type name Lua reports for an argument (`None`: no argument).
pub(crate) fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(Value::Nil) => "nil",
        Some(Value::Boolean(_)) => "boolean",
        Some(Value::Integer(_) | Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Table(_)) => "table",
        Some(Value::Function(_)) => "function",
        Some(Value::Thread(_)) => "thread",
        Some(_) => "userdata",
    }
}

/// `lua_tonumber`: numbers, and strings Lua converts to numbers.
pub(crate) fn to_number(lua: &Lua, v: Option<&Value>) -> mlua::Result<Option<f64>> {
    Ok(match v {
        Some(Value::Integer(i)) => Some(*i as f64),
        Some(Value::Number(n)) => Some(*n),
        Some(s @ Value::String(_)) => lua.coerce_number(s.clone())?,
        _ => None,
    })
}

/// `luaL_checknumber`.
pub(crate) fn check_number(lua: &Lua, args: &[Value], n: usize) -> LibResult<f64> {
    let v = args.get(n - 1);
    to_number(lua, v)?.ok_or_else(|| Raise::type_error(n, "number", v))
}

/// `luaL_checkinteger` (Lua 5.1 on x86-64: a C cast of the double to a 64-bit integer).
pub(crate) fn check_integer(lua: &Lua, args: &[Value], n: usize) -> LibResult<i64> {
    Ok(double_to_i64(check_number(lua, args, n)?))
}

/// A C cast of a double to `long` as x86-64 does it: truncation, and the "integer
/// indefinite" value for NaN and numbers out of range.
pub(crate) fn double_to_i64(d: f64) -> i64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if (-TWO_63..TWO_63).contains(&d) {
        d as i64
    } else {
        i64::MIN
    }
}

/// `luaL_checklstring`: strings, and numbers converted to strings as Lua does.
pub(crate) fn check_string(lua: &Lua, args: &[Value], n: usize) -> LibResult<mlua::LuaString> {
    let v = args.get(n - 1);
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(num @ (Value::Integer(_) | Value::Number(_))) => lua
            .coerce_string(num.clone())?
            .ok_or_else(|| Raise::type_error(n, "string", v)),
        _ => Err(Raise::type_error(n, "string", v)),
    }
}

/// Pushes a number result (always a Lua number in Lua 5.1).
pub(crate) fn number(n: f64) -> Value {
    Value::Number(n)
}

/// Runs Lua snippets the way the expected values were captured from redis-server 7.0.15:
/// each snippet is the body of a function, its results (or error) serialised in one line.
#[cfg(test)]
pub(crate) mod testutil {
    /// The wrapper, on one line so that errors report `user_script:1:` as in Redis.
    const WRAP: &str = "local function ser(v) local t = type(v) \
        if t == 'string' then return '\"' .. (v:gsub('[^ -~]', function(c) return '\\\\' .. c:byte() end)) .. '\"' \
        elseif t == 'number' then return string.format('%.17g', v) \
        elseif t == 'table' then local ks = {} for k in pairs(v) do ks[#ks + 1] = k end \
        table.sort(ks, function(a, b) return ser(a) < ser(b) end) local o = {} \
        for _, k in ipairs(ks) do o[#o + 1] = '[' .. ser(k) .. ']=' .. ser(v[k]) end \
        return '{' .. table.concat(o, ',') .. '}' \
        else return tostring(v) end end \
        local function pk(...) return {n = select('#', ...), ...} end \
        return ser(pk(pcall(function() SNIPPET end)))";

    /// The Lua code sent to Redis or run here for `snippet`.
    pub(crate) fn wrap(snippet: &str) -> String {
        WRAP.replace("SNIPPET", snippet)
    }

    /// A state with the four libraries as globals.
    pub(crate) fn state() -> mlua::Lua {
        let lua = mlua::Lua::new();
        let g = lua.globals();
        g.set("bit", super::bit::open(&lua).unwrap()).unwrap();
        g.set("cjson", super::cjson::open(&lua).unwrap()).unwrap();
        g.set("cmsgpack", super::cmsgpack::open(&lua).unwrap())
            .unwrap();
        g.set("struct", super::structlib::open(&lua).unwrap())
            .unwrap();
        lua
    }

    pub(crate) fn run(lua: &mlua::Lua, snippet: &str) -> String {
        lua.load(wrap(snippet))
            .set_name("@user_script")
            .eval::<String>()
            .unwrap_or_else(|e| panic!("{snippet}: {e}"))
    }

    /// Checks every (snippet, output of redis-server 7.0.15) pair in a fresh state.
    pub(crate) fn check(cases: &[(&str, &str)]) {
        let lua = state();
        let mut failures = Vec::new();
        for (snippet, expected) in cases {
            let got = run(&lua, snippet);
            if got != *expected {
                failures.push(format!("{snippet}\n  redis: {expected}\n  ours:  {got}"));
            }
        }
        assert!(
            failures.is_empty(),
            "{} mismatches:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}
