#ifndef WB_CLUA_SHIM_H
#define WB_CLUA_SHIM_H
/*
 * Lua 5.4 for Swift: the headers, plus static inline shims for what Swift cannot import
 * (macros and variadic functions), plus the one C trampoline through which Lua calls Swift.
 *
 * The rule (see shared/design/lua-bridge.md): a Lua error must never longjmp across a Swift
 * frame. Swift functions called from Lua therefore never raise: on failure they push the
 * error message and return a negative sentinel, and the C trampoline below raises the error
 * after the Swift frame has returned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lualib.h>
#include <lauxlib.h>

/* ---- macros as functions ---------------------------------------------------------- */

static inline int wb_registryindex(void) { return LUA_REGISTRYINDEX; }
static inline int wb_upvalueindex(int i) { return lua_upvalueindex(i); }
static inline int wb_ridx_globals(void) { return LUA_RIDX_GLOBALS; }

static inline int wb_pcall(lua_State *L, int nargs, int nresults, int msgh) {
    return lua_pcall(L, nargs, nresults, msgh);
}
/* Never calls a metamethod: returns NULL for anything but strings and numbers. */
static inline const char *wb_tostring(lua_State *L, int i) { return lua_tolstring(L, i, NULL); }
static inline void wb_pop(lua_State *L, int n) { lua_pop(L, n); }
static inline void wb_newtable(lua_State *L) { lua_newtable(L); }
static inline void wb_insert(lua_State *L, int i) { lua_insert(L, i); }
static inline void wb_remove(lua_State *L, int i) { lua_remove(L, i); }
static inline void wb_pushcfunction(lua_State *L, lua_CFunction f) { lua_pushcfunction(L, f); }
static inline void wb_pushglobaltable(lua_State *L) { lua_pushglobaltable(L); }
static inline int wb_loadbuffer(lua_State *L, const char *buf, size_t size, const char *name) {
    return luaL_loadbuffer(L, buf, size, name);
}
static inline void *wb_getextraspace(lua_State *L) { return lua_getextraspace(L); }
static inline int wb_getmetatable_named(lua_State *L, const char *name) { return luaL_getmetatable(L, name); }
static inline const char *wb_typename_at(lua_State *L, int i) { return luaL_typename(L, i); }

/* lua_gc is variadic in 5.4. */
static inline void wb_gc_collect(lua_State *L) { lua_gc(L, LUA_GCCOLLECT); }
/* Memory in use by this state, in bytes. */
static inline size_t wb_gc_bytes(lua_State *L) {
    return (size_t)lua_gc(L, LUA_GCCOUNT) * 1024u + (size_t)lua_gc(L, LUA_GCCOUNTB);
}

/* ---- allocation: abort instead of returning NULL ------------------------------------ */

/* With this allocator Lua never raises a memory error, so API calls marked 'm' in the
 * manual are safe to make from Swift. */
static void *wb_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud; (void)osize;
    if (nsize == 0) { free(ptr); return NULL; }
    void *p = realloc(ptr, nsize);
    if (p == NULL) {
        fputs("workbench: out of memory in the Lua interpreter\n", stderr);
        abort();
    }
    return p;
}

static int wb_panic(lua_State *L) {
    const char *msg = lua_tolstring(L, -1, NULL);
    fprintf(stderr, "workbench: unprotected Lua error: %s\n", msg ? msg : "(not a string)");
    abort();
    return 0;
}

static void wb_warn(void *ud, const char *msg, int tocont) {
    (void)ud; (void)tocont;
    fputs(msg, stderr);
    if (!tocont) fputs("\n", stderr);
}

static inline lua_State *wb_newstate(void) {
    lua_State *L = lua_newstate(wb_alloc, NULL);
    if (L != NULL) {
        lua_atpanic(L, wb_panic);
        lua_setwarnf(L, wb_warn, NULL);
    }
    return L;
}

/* ---- error handling ----------------------------------------------------------------- */

/* Message handler for lua_pcall (as lua.c's): appends a traceback, unless the message
 * already carries one (an error re-raised from a nested protected call). */
static int wb_msghandler(lua_State *L) {
    const char *msg = lua_tolstring(L, 1, NULL);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    if (strstr(msg, "\nstack traceback:") != NULL) {
        lua_pushstring(L, msg);
        return 1;
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static inline void wb_pushmsghandler(lua_State *L) { lua_pushcfunction(L, wb_msghandler); }

/* ---- the trampoline ----------------------------------------------------------------- */

/* A Swift function called from Lua. It returns the number of results it pushed, or one of
 * the sentinels below after pushing an error value. It never raises. */
typedef int (*wb_SwiftFunction)(lua_State *L);

/* Raise the message on top of the stack, prefixed with the caller's "file:line:". */
#define WB_RAISE_WITH_POSITION (-1)
/* Raise the value on top of the stack as it is (an error from a nested Lua call). */
#define WB_RAISE_AS_IS (-2)

static inline int wb_raise_with_position(void) { return WB_RAISE_WITH_POSITION; }
static inline int wb_raise_as_is(void) { return WB_RAISE_AS_IS; }

/* What Lua calls. Upvalue 1 is the Swift function (a light userdata); the Swift function
 * may read further upvalues from index 2 on. */
static int wb_trampoline(lua_State *L) {
    wb_SwiftFunction f = (wb_SwiftFunction)lua_touserdata(L, lua_upvalueindex(1));
    int n = f(L);                      /* the Swift frame returns here, fully unwound */
    if (n >= 0) return n;
    if (n == WB_RAISE_WITH_POSITION && lua_type(L, -1) == LUA_TSTRING) {
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
    }
    return lua_error(L);               /* only C frames between here and the pcall */
}

/* Pushes a C closure of the trampoline around `f`, taking the `nup` values on top of the
 * stack as upvalues 2..nup+1. */
static inline void wb_pushswiftfunction(lua_State *L, wb_SwiftFunction f, int nup) {
    lua_pushlightuserdata(L, (void *)f);
    lua_insert(L, -(nup + 1));
    lua_pushcclosure(L, wb_trampoline, nup + 1);
}

#endif
