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
 *
 * The memory cap (-luaMemory) and the time limit (-luaTimeout) follow the same rule: the
 * allocator only fails, and the count hook only raises, while Lua code runs (see wb_Limits).
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

/* ---- allocation, memory cap and time limit ------------------------------------------ */

#include <time.h>

/* Per-state limits, the allocator's user data (lua_getallocf). `in_swift` is 1 while Swift
 * code is running (outside any wb_pcall, or inside a Swift function the trampoline called):
 * then the allocator never fails (it aborts on a real out-of-memory), so API calls marked
 * 'm' in the manual never raise from inside Swift. While Lua code runs (`in_swift` 0), an
 * allocation over the cap, or one the OS refuses, returns NULL and Lua raises its ordinary
 * "not enough memory" error, in a C frame (the VM's), caught by the nearest lua_pcall. */
typedef struct wb_Limits {
    size_t used;            /* bytes Lua has allocated through this allocator */
    size_t cap;             /* 0: no cap */
    int in_swift;
    int cap_hit;            /* an allocation was refused because of the cap */
    double deadline;        /* monotonic seconds; 0: no time limit */
    double seconds;         /* the limit as given, for the message */
    int expired;
} wb_Limits;

static inline double wb_monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *wb_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    wb_Limits *lim = (wb_Limits *)ud;
    size_t old = ptr != NULL ? osize : 0;     /* for a new block, osize is a type code */
    if (nsize == 0) {
        free(ptr);
        lim->used -= old;
        return NULL;
    }
    if (!lim->in_swift && lim->cap != 0 && nsize > old && lim->used - old + nsize > lim->cap) {
        lim->cap_hit = 1;
        return NULL;                          /* Lua collects garbage, retries, then raises */
    }
    void *p = realloc(ptr, nsize);
    if (p == NULL) {
        if (!lim->in_swift) return NULL;
        fputs("workbench: out of memory in the Lua interpreter\n", stderr);
        abort();
    }
    lim->used = lim->used - old + nsize;
    return p;
}

static inline wb_Limits *wb_limits(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return (wb_Limits *)ud;
}

/* Enters Swift (returns the previous state, for wb_leave). */
static inline int wb_enter_swift(lua_State *L) {
    wb_Limits *lim = wb_limits(L);
    int was = lim->in_swift;
    lim->in_swift = 1;
    return was;
}
static inline void wb_leave_swift(lua_State *L, int was) { wb_limits(L)->in_swift = was; }

/* Calls Lua from Swift: the memory cap applies while the Lua code runs. */
static inline int wb_pcall(lua_State *L, int nargs, int nresults, int msgh) {
    wb_Limits *lim = wb_limits(L);
    int was = lim->in_swift;
    lim->in_swift = 0;
    int status = lua_pcall(L, nargs, nresults, msgh);
    lim->in_swift = was;
    return status;
}

/* The memory cap in bytes (0: none); clears the "cap hit" mark. */
static inline void wb_set_memory_cap(lua_State *L, size_t bytes) {
    wb_Limits *lim = wb_limits(L);
    lim->cap = bytes;
    lim->cap_hit = 0;
}
static inline size_t wb_memory_cap(lua_State *L) { return wb_limits(L)->cap; }
static inline size_t wb_memory_used(lua_State *L) { return wb_limits(L)->used; }
/* Whether an allocation was refused because of the cap since the last call (and clears it). */
static inline int wb_take_cap_hit(lua_State *L) {
    wb_Limits *lim = wb_limits(L);
    int hit = lim->cap_hit;
    lim->cap_hit = 0;
    return hit;
}

/* Count hook of the time limit: runs between Lua instructions, in the VM's C frame, so its
 * error unwinds only C frames (to the nearest lua_pcall). Once the limit has passed it fires
 * at every instruction, so a script cannot pcall its way past it. */
static void wb_time_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    wb_Limits *lim = wb_limits(L);
    if (lim->deadline == 0) return;
    if (!lim->expired) {
        if (wb_monotonic() < lim->deadline) return;
        lim->expired = 1;
        lua_sethook(L, wb_time_hook, LUA_MASKCOUNT, 1);
    }
    int was = lim->in_swift;
    lim->in_swift = 1;                        /* the message must not fail on the cap */
    char text[64];
    snprintf(text, sizeof text, "%g", lim->seconds);
    luaL_where(L, 0);                         /* level 0: the Lua function running */
    lua_pushfstring(L, "script exceeded the time limit of %s s (-luaTimeout)", text);
    lua_concat(L, 2);
    lim->in_swift = was;
    lua_error(L);
}

/* Starts a time limit of `seconds` from now (0 or less: removes it). */
static inline void wb_set_time_limit(lua_State *L, double seconds) {
    wb_Limits *lim = wb_limits(L);
    lim->expired = 0;
    if (seconds > 0) {
        lim->seconds = seconds;
        lim->deadline = wb_monotonic() + seconds;
        lua_sethook(L, wb_time_hook, LUA_MASKCOUNT, 10000);
    } else {
        lim->seconds = 0;
        lim->deadline = 0;
        lua_sethook(L, NULL, 0, 0);
    }
}
static inline int wb_time_expired(lua_State *L) { return wb_limits(L)->expired; }

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
    wb_Limits *lim = (wb_Limits *)calloc(1, sizeof(wb_Limits));
    if (lim == NULL) return NULL;
    lim->in_swift = 1;
    lua_State *L = lua_newstate(wb_alloc, lim);
    if (L == NULL) { free(lim); return NULL; }
    lua_atpanic(L, wb_panic);
    lua_setwarnf(L, wb_warn, NULL);
    return L;
}

/* Closes the state and frees its limits. */
static inline void wb_close(lua_State *L) {
    wb_Limits *lim = wb_limits(L);
    lim->in_swift = 1;
    lim->cap = 0;
    lua_close(L);
    free(lim);
}

/* ---- error handling ----------------------------------------------------------------- */

/* The "file:line:" of the innermost Lua function on the stack (for an error value that is
 * not a string: error(), error(nil), error({})); pushes "" when there is none. */
static inline void wb_where_lua(lua_State *L) {
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "Sl", &ar);
        if (ar.currentline > 0) {
            lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
            return;
        }
    }
    lua_pushliteral(L, "");
}

/* Message handler for lua_pcall (as lua.c's): appends a traceback, unless the message
 * already carries one (an error re-raised from a nested protected call). An error value
 * that is not a string (and has no __tostring) is described, with the script's file:line.
 * Runs as Swift would (no memory cap): the message must not fail for lack of memory. */
static int wb_msghandler(lua_State *L) {
    int was = wb_enter_swift(L);
    const char *msg = lua_tolstring(L, 1, NULL);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) {
            wb_leave_swift(L, was);
            return 1;
        }
        wb_where_lua(L);
        msg = lua_pushfstring(L, "%s(error object is a %s value)", lua_tostring(L, -1), luaL_typename(L, 1));
    }
    if (strstr(msg, "\nstack traceback:") != NULL) {
        lua_pushstring(L, msg);
        wb_leave_swift(L, was);
        return 1;
    }
    luaL_traceback(L, L, msg, 1);
    wb_leave_swift(L, was);
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
    int was = wb_enter_swift(L);       /* no memory cap inside Swift */
    int n = f(L);                      /* the Swift frame returns here, fully unwound */
    wb_leave_swift(L, was);
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
