/* Coverage of Lua code for libFuzzer.  Only C is instrumented, so a harness
 * that runs a provider's Lua (cri_log) saw the same few C edges for every
 * input and libFuzzer kept one seed of one byte: blind mutation.  This line
 * hook counts each step from one Lua line to the next in libFuzzer's extra
 * counters (which it clears before each input and reads after it), so an
 * input that takes a new path through the Lua is kept and mutated further.
 * Include it once, call vk_fuzz_lua_cov(L) after creating the state. */
#ifndef VK_FUZZ_LUA_COV_H
#define VK_FUZZ_LUA_COV_H

#include <lua.h>
#include <stdint.h>

#define VK_FUZZ_LUA_EDGES (1u << 16)

__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t vk_fuzz_lua_edges[VK_FUZZ_LUA_EDGES];
static uint32_t vk_fuzz_lua_prev;

static void vk_fuzz_lua_line(lua_State *L, lua_Debug *ar)
{
	if (!lua_getinfo(L, "S", ar))
		return;
	/* A line of a chunk: its source's address (interned, stable while the
	 * chunk lives) and the line number; an edge: this line and the last. */
	uint32_t here = (uint32_t)((uintptr_t)ar->source * 2654435761u) ^ (uint32_t)ar->currentline * 40503u;
	vk_fuzz_lua_edges[(here ^ vk_fuzz_lua_prev) % VK_FUZZ_LUA_EDGES]++;
	vk_fuzz_lua_prev = here >> 1;
}

static void vk_fuzz_lua_cov(lua_State *L) { lua_sethook(L, vk_fuzz_lua_line, LUA_MASKLINE, 0); }

#endif
