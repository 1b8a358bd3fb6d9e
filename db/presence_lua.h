/* db/presence_lua: presence's Redis scripts, the files db/lua/NAME.lua
 * embedded at build time as C strings (db/lua/embed.awk writes
 * presence_lua.c; db/lua/README.md).  What each takes and returns is at
 * the top of its .lua file. */
#ifndef PL_PRESENCE_LUA_H
#define PL_PRESENCE_LUA_H

extern const char pl_lua_connect[];
extern const char pl_lua_disconnect[];
extern const char pl_lua_remote[];
extern const char pl_lua_check[];
extern const char pl_lua_maintain[];
extern const char pl_lua_register[];
extern const char pl_lua_withdraw[];

#endif
