/* The provider table's checks: one set, used by open, reload and vk check.
 *
 * Every problem is "file[:line]: message".  A field that is not a function
 * has no line of its own in Lua's eyes: the line of its first assignment is
 * found in the source text, else the file alone is named (as for a callback
 * that is missing). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "vk/util.h"

static bool ident_char(char ch) { return isalnum((unsigned char)ch) || ch == '_'; }

/* The first line of `path` that assigns `field` ("x.field =", "field =",
 * "function X.field"), or 0. */
static int assignment_line(const char *path, const char *field)
{
	vk_buf b = {0};
	char *err = NULL;
	if (vk_read_file(path, &b, &err) < 0) {
		free(err);
		return 0;
	}
	size_t flen = strlen(field);
	int line = 1, found = 0;
	for (size_t i = 0; i + flen <= b.len && !found; i++) {
		if (b.data[i] == '\n') {
			line++;
			continue;
		}
		if (memcmp(b.data + i, field, flen) != 0 || (i > 0 && ident_char(b.data[i - 1])) ||
		    (i + flen < b.len && ident_char(b.data[i + flen])))
			continue;
		size_t j = i + flen;
		while (j < b.len && (b.data[j] == ' ' || b.data[j] == '\t'))
			j++;
		bool assigns = j < b.len && b.data[j] == '=' && (j + 1 >= b.len || b.data[j + 1] != '=');
		bool fn = i >= 1 && (b.data[i - 1] == '.' || b.data[i - 1] == ':');
		if (fn) { /* "function P.field" */
			size_t k = i - 1;
			while (k > 0 && (ident_char(b.data[k - 1]) || b.data[k - 1] == '.'))
				k--;
			while (k > 0 && (b.data[k - 1] == ' ' || b.data[k - 1] == '\t'))
				k--;
			fn = k >= 8 && memcmp(b.data + k - 8, "function", 8) == 0;
		}
		if (assigns || fn)
			found = line;
	}
	vk_buf_free(&b);
	return found;
}

static char *where(const char *path, const char *field)
{
	int line = assignment_line(path, field);
	return line ? vk_asprintf("%s:%d", path, line) : vk_strdup(path);
}

/* A label value (the taint's value is P.name): at most 63 characters of
 * [A-Za-z0-9._-], alphanumeric at both ends. */
static bool label_value_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

static bool required(int c)
{
	return c == VK_CALL_CREATE_POD || c == VK_CALL_DELETE_POD || c == VK_CALL_GET_POD_STATUS;
}

static void not_a(lua_State *L, const char *path, const char *field, const char *want, int ty, vk_lua_problem_fn add,
                  void *ud, size_t *n)
{
	char *w = where(path, field);
	add(ud, vk_asprintf("%s: %s must be a %s (it is a %s)", w, field, want, lua_typename(L, ty)));
	free(w);
	(*n)++;
}

size_t vk_lua__validate_provider(lua_State *L, const char *path, bool has[VK_CALL__COUNT], char **name,
                                 vk_lua_problem_fn add, void *ud)
{
	size_t n = 0;
	if (name)
		*name = NULL;
	for (int k = 0; k < VK_CALL__COUNT; k++) {
		const char *f = vk_provider_call_name((vk_provider_call)k);
		lua_getfield(L, -1, f);
		int ty = lua_type(L, -1);
		lua_pop(L, 1);
		if (has)
			has[k] = ty == LUA_TFUNCTION;
		if (ty == LUA_TNIL && required(k)) {
			add(ud, vk_asprintf("%s: the required callback %s is missing (create_pod, delete_pod and "
			                    "get_pod_status are required)",
			                    path, f));
			n++;
		} else if (ty != LUA_TNIL && ty != LUA_TFUNCTION) {
			not_a(L, path, f, "function", ty, add, ud, &n);
		}
	}
	static const char *const others[] = {"init", "on_reload"};
	for (size_t i = 0; i < VK_ARRAY_LEN(others); i++) {
		lua_getfield(L, -1, others[i]);
		int ty = lua_type(L, -1);
		lua_pop(L, 1);
		if (ty != LUA_TNIL && ty != LUA_TFUNCTION)
			not_a(L, path, others[i], "function", ty, add, ud, &n);
	}
	lua_getfield(L, -1, "name");
	int ty = lua_type(L, -1);
	if (ty == LUA_TSTRING) {
		const char *s = lua_tostring(L, -1);
		if (!label_value_ok(s)) {
			char *w = where(path, "name");
			add(ud, vk_asprintf("%s: name \"%s\" cannot be the value of the node's taint (a label value: "
			                    "up to 63 of [A-Za-z0-9._-], alphanumeric at both ends)",
			                    w, s));
			free(w);
			n++;
		} else if (name) {
			*name = vk_strdup(s);
		}
	} else if (ty != LUA_TNIL) {
		not_a(L, path, "name", "string", ty, add, ud, &n);
	}
	lua_pop(L, 1);
	return n;
}
