/* Hot reload (docs/design.md, "Hot reload") inside the same lua_State.
 *
 * The new version is loaded beside the old one: the provider's own modules
 * are taken out of package.loaded so that its require lines load them
 * afresh, the file is run and checked, then init(config, node) and
 * on_reload(previous) run in a task.  Only when all of that succeeded is the
 * provider table swapped; on any failure package.loaded is put back and the
 * old version goes on as if nothing happened.  Callbacks already running
 * keep the functions they started with, so they finish on the old version.
 * Sharing the lua_State is what lets on_reload receive the old table. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "vk/util.h"

/* Records the package.loaded keys present before the provider first runs:
 * the standard and vk modules, which a reload keeps. */
void vk_lua__snapshot_loaded(vk_lua_host *h)
{
	lua_State *L = h->L;
	lua_newtable(L);
	lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		lua_pop(L, 1);
		lua_pushvalue(L, -1);
		lua_pushboolean(L, 1);
		lua_rawset(L, -5);
	}
	lua_pop(L, 1);
	h->base_loaded_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Pushes a table with the provider's entries of package.loaded; with
 * `remove`, also takes them out of package.loaded. */
static void provider_modules(vk_lua_host *h, bool remove)
{
	lua_State *L = h->L;
	lua_newtable(L);
	int saved = lua_gettop(L);
	lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	int loaded = lua_gettop(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, h->base_loaded_ref);
	int base = lua_gettop(L);
	lua_pushnil(L);
	while (lua_next(L, loaded)) {
		lua_pushvalue(L, -2);
		if (lua_rawget(L, base) == LUA_TNIL) {
			lua_pop(L, 1);
			lua_pushvalue(L, -2);
			lua_insert(L, -2);
			lua_rawset(L, saved); /* saved[k] = v */
		} else {
			lua_pop(L, 2);
		}
	}
	if (remove) {
		lua_pushnil(L);
		while (lua_next(L, saved)) {
			lua_pop(L, 1);
			lua_pushvalue(L, -1);
			lua_pushnil(L);
			lua_rawset(L, loaded);
		}
	}
	lua_settop(L, saved);
}

/* Puts back the saved modules, dropping what the failed version loaded. */
static void restore_modules(vk_lua_host *h, int saved_ref)
{
	lua_State *L = h->L;
	provider_modules(h, true);
	lua_pop(L, 1);
	lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	lua_rawgeti(L, LUA_REGISTRYINDEX, saved_ref);
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_rawset(L, -5);
	}
	lua_pop(L, 2);
}

typedef struct {
	vk_lua_open_cb cb;
	void *ud;
	cJSON *node;
	int new_ref, saved_ref, node_ref;
	bool has[VK_CALL__COUNT];
	char *err; /* a load error, reported from the loop */
} reload_ctx;

static void reload_end(vk_lua_host *h, reload_ctx *r, const char *err)
{
	lua_State *L = h->L;
	h->reloading = false;
	if (err) {
		if (!h->closing) {
			restore_modules(h, r->saved_ref);
			vk_lua__handles_stop_gen(h, h->gen, false);
		}
		luaL_unref(L, LUA_REGISTRYINDEX, r->new_ref);
	} else {
		luaL_unref(L, LUA_REGISTRYINDEX, h->provider_ref);
		h->provider_ref = r->new_ref;
		memcpy(h->has, r->has, sizeof h->has);
		vk_lua__handles_stop_gen(h, h->gen, true);
	}
	luaL_unref(L, LUA_REGISTRYINDEX, r->saved_ref);
	r->cb(err ? NULL : &h->prov, err, r->ud);
}

static void reload_done(vk_lua_task *t, int err, const char *errmsg, int nres)
{
	reload_ctx *r = t->done_ud;
	vk_lua_host *h = t->h;
	char *e = NULL;
	if (r->err)
		errmsg = r->err;
	else if (!err && r->node)
		errmsg = e = vk_lua__write_back_node(h, t->co, r->node_ref, r->node);
	reload_end(h, r, (err || r->err || e) ? errmsg : NULL);
	luaL_unref(h->L, LUA_REGISTRYINDEX, r->node_ref);
	free(e);
	free(r->err);
	free(r);
}

/* new.init(config, node), then new.on_reload(old). */
static const char driver[] = "local new, old, config, node = ...\n"
			     "if new.init then new.init(config, node) end\n"
			     "if new.on_reload then new.on_reload(old) end\n";

int vk_lua_provider_reload(vk_provider *p, const cJSON *config, cJSON *node, vk_lua_open_cb cb, void *ud)
{
	vk_lua_host *h = vk_lua__host_from_provider(p);
	if (!h || !cb || (node && !cJSON_IsObject(node)))
		return -EINVAL;
	if (h->closing)
		return -ESHUTDOWN;
	if (h->reloading)
		return -EBUSY;
	lua_State *L = h->L;
	reload_ctx *r = vk_xcalloc(1, sizeof *r);
	r->cb = cb;
	r->ud = ud;
	r->node = node;
	r->new_ref = r->node_ref = LUA_NOREF;
	h->reloading = true;
	h->gen++; /* timers the new top level and init start belong to it */

	provider_modules(h, true);
	r->saved_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	char *name = NULL;
	r->err = vk_lua__load_provider(h, r->has, &r->new_ref, &name);
	free(name); /* the name stays the first version's: it is the node's taint */

	int top = lua_gettop(L);
	int nargs = 0;
	if (r->err) {
		lua_pushcfunction(L, vk_lua__nothing);
	} else if (luaL_loadbufferx(L, driver, sizeof driver - 1, "=vk reload", "t") != LUA_OK) {
		r->err = vk_strdup(lua_tostring(L, -1)); /* cannot happen */
		lua_settop(L, top);
		lua_pushcfunction(L, vk_lua__nothing);
	}
	vk_lua_task *t = vk_lua__task_new(h, "provider reload", reload_done, r);
	if (!r->err) {
		vk_lua_init_args a = {config, node};
		lua_rawgeti(L, LUA_REGISTRYINDEX, r->new_ref);
		lua_rawgeti(L, LUA_REGISTRYINDEX, h->provider_ref);
		lua_pushcfunction(L, vk_lua__push_init_args);
		lua_pushlightuserdata(L, &a);
		if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
			lua_settop(L, top);
			r->err = vk_strdup("out of memory");
		} else {
			lua_pushvalue(L, -1);
			r->node_ref = luaL_ref(L, LUA_REGISTRYINDEX);
			nargs = 4;
			lua_xmove(L, t->co, nargs);
		}
	}
	vk_lua__task_queue(t, nargs);
	return 0;
}

/* The provider file and the modules it required from its own folder. */
char **vk_lua_provider_sources(vk_provider *p)
{
	vk_lua_host *h = vk_lua__host_from_provider(p);
	if (!h)
		return NULL;
	lua_State *L = h->L;
	size_t n = 0, cap = 8;
	char **list = vk_xmalloc(cap * sizeof *list);
	list[n++] = vk_strdup(h->path);
	const char *slash = strrchr(h->path, '/');
	char *dir = slash ? vk_asprintf("%.*s/", (int)(slash - h->path), h->path) : vk_strdup("./");
	char *templ = vk_asprintf("%s?.lua;%s?/init.lua", dir, dir);
	provider_modules(h, false);
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "searchpath");
	lua_remove(L, -2);
	int searchpath = lua_gettop(L);
	lua_pushnil(L);
	while (lua_next(L, searchpath - 1)) {
		lua_pop(L, 1);
		if (lua_type(L, -1) != LUA_TSTRING)
			continue;
		lua_pushvalue(L, searchpath);
		lua_pushvalue(L, -2);
		lua_pushstring(L, templ);
		if (lua_pcall(L, 2, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING) {
			if (n + 2 > cap)
				list = vk_xrealloc(list, (cap *= 2) * sizeof *list);
			const char *f = lua_tostring(L, -1);
			list[n++] = vk_strdup(strncmp(f, "./", 2) || slash ? f : f + 2);
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 2);
	list[n] = NULL;
	free(dir);
	free(templ);
	return list;
}
