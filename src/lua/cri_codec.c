/* Lua tables <-> protobuf-c messages by walking the message descriptors, so
 * that every CRI RPC needs only its row in the method table (see
 * cri_codec.h for the mapping).
 *
 * Memory: messages are built with malloc in exactly the shape
 * protobuf_c_message_unpack produces, so protobuf_c_message_free_unpacked
 * (default allocator) frees a built message, complete or not.  Arrays are
 * calloc'd and their count raised before each element is filled, so a
 * half-built message is always freeable. */
#include <inttypes.h>
#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cri_codec.h"
#include "host.h" /* vk_lua__json_mark_array */
#include "vk/util.h"

typedef struct {
	lua_State *L;
	vk_buf path; /* "config.port_mappings[2]" while descending */
	char *err;
} enc;

static int fail(enc *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(enc *e, const char *fmt, ...)
{
	va_list ap;
	vk_buf b = {0};
	vk_buf_printf(&b, "%s: ", e->path.len ? e->path.data : "request");
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *m = vk_xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(m, (size_t)n + 1, fmt, ap);
	va_end(ap);
	vk_buf_append(&b, m, (size_t)n);
	free(m);
	e->err = vk_buf_steal(&b);
	return -1;
}

static const char *type_name(lua_State *L, int idx) { return luaL_typename(L, idx); }

/* A map<K, V> field is a repeated message "XxxEntry" nested in its owner
 * with exactly key = 1 and value = 2 (protoc's map lowering); protobuf-c
 * keeps no map_entry flag, so recognise the shape.  KeyValue (envs) is a
 * plain message: its name does not end in "Entry". */
static bool is_map_entry(const ProtobufCFieldDescriptor *f)
{
	if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return false;
	const ProtobufCMessageDescriptor *d = f->descriptor;
	size_t n = strlen(d->short_name);
	return n > 5 && strcmp(d->short_name + n - 5, "Entry") == 0 && d->n_fields == 2 &&
	       strcmp(d->fields[0].name, "key") == 0 && d->fields[0].id == 1 &&
	       strcmp(d->fields[1].name, "value") == 0 && d->fields[1].id == 2;
}

static size_t elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: return sizeof(int32_t);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: return sizeof(int64_t);
	case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM: return sizeof(int);
	case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
	}
	return 0;
}

/* ---- encode ------------------------------------------------------------ */

static int enc_message(enc *e, int idx, const ProtobufCMessageDescriptor *d, ProtobufCMessage **slot);

static int enc_integer(enc *e, int idx, lua_Integer lo, lua_Integer hi, lua_Integer *out)
{
	lua_State *L = e->L;
	int isnum = 0;
	lua_Integer v = 0;
	if (lua_type(L, idx) == LUA_TNUMBER || lua_type(L, idx) == LUA_TSTRING)
		v = lua_tointegerx(L, idx, &isnum);
	if (!isnum)
		return fail(e, "expected an integer, got %s",
		            lua_type(L, idx) == LUA_TNUMBER ? "a number with a fraction" : type_name(L, idx));
	if (v < lo || v > hi)
		return fail(e, "%" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]", (int64_t)v, (int64_t)lo,
		            (int64_t)hi);
	*out = v;
	return 0;
}

static int enc_enum(enc *e, int idx, const ProtobufCEnumDescriptor *ed, int *out)
{
	lua_State *L = e->L;
	if (lua_type(L, idx) == LUA_TSTRING) {
		const char *s = lua_tostring(L, idx);
		const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(ed, s);
		if (!v) {
			vk_buf names = {0};
			for (unsigned i = 0; i < ed->n_values; i++)
				vk_buf_printf(&names, "%s%s", i ? ", " : "", ed->values[i].name);
			fail(e, "'%s' is not a %s (one of %s)", s, ed->name, names.data);
			vk_buf_free(&names);
			return -1;
		}
		*out = v->value;
		return 0;
	}
	lua_Integer v;
	if (lua_type(L, idx) != LUA_TNUMBER)
		return fail(e, "expected a %s name or number, got %s", ed->name, type_name(L, idx));
	if (enc_integer(e, idx, INT32_MIN, INT32_MAX, &v) < 0)
		return -1;
	*out = (int)v; /* proto3 enums are open: unknown numbers are kept */
	return 0;
}

/* Encodes the scalar (or sub-message) at idx into dst, a slot of f's type. */
static int enc_value(enc *e, int idx, const ProtobufCFieldDescriptor *f, void *dst)
{
	lua_State *L = e->L;
	lua_Integer v;
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (enc_integer(e, idx, INT32_MIN, INT32_MAX, &v) < 0)
			return -1;
		*(int32_t *)dst = (int32_t)v;
		return 0;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if (enc_integer(e, idx, 0, UINT32_MAX, &v) < 0)
			return -1;
		*(uint32_t *)dst = (uint32_t)v;
		return 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if (enc_integer(e, idx, LUA_MININTEGER, LUA_MAXINTEGER, &v) < 0)
			return -1;
		*(int64_t *)dst = (int64_t)v;
		return 0;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		/* A float at or above 2^63 is how such a value comes back out. */
		if (lua_type(L, idx) == LUA_TNUMBER && !lua_isinteger(L, idx)) {
			double x = lua_tonumber(L, idx);
			if (x >= 9223372036854775808.0 && x < 18446744073709551616.0 && x == floor(x)) {
				*(uint64_t *)dst = (uint64_t)x;
				return 0;
			}
		}
		if (enc_integer(e, idx, 0, LUA_MAXINTEGER, &v) < 0)
			return -1;
		*(uint64_t *)dst = (uint64_t)v;
		return 0;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE: {
		if (lua_type(L, idx) != LUA_TNUMBER)
			return fail(e, "expected a number, got %s", type_name(L, idx));
		double x = lua_tonumber(L, idx);
		if (f->type == PROTOBUF_C_TYPE_FLOAT)
			*(float *)dst = (float)x;
		else
			*(double *)dst = x;
		return 0;
	}
	case PROTOBUF_C_TYPE_BOOL:
		if (lua_type(L, idx) != LUA_TBOOLEAN)
			return fail(e, "expected a boolean, got %s", type_name(L, idx));
		*(protobuf_c_boolean *)dst = lua_toboolean(L, idx);
		return 0;
	case PROTOBUF_C_TYPE_ENUM: return enc_enum(e, idx, f->descriptor, (int *)dst);
	case PROTOBUF_C_TYPE_STRING: {
		int t = lua_type(L, idx);
		if (t != LUA_TSTRING && t != LUA_TNUMBER)
			return fail(e, "expected a string, got %s", type_name(L, idx));
		lua_pushvalue(L, idx); /* tolstring converts numbers in place */
		size_t n;
		const char *s = lua_tolstring(L, -1, &n);
		if (strlen(s) != n) {
			lua_pop(L, 1);
			return fail(e, "string contains a NUL byte (use a bytes field)");
		}
		char **slot = dst;
		if (*slot && *slot != protobuf_c_empty_string && *slot != (const char *)f->default_value)
			free(*slot);
		*slot = vk_strdup(s);
		lua_pop(L, 1);
		return 0;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		if (lua_type(L, idx) != LUA_TSTRING)
			return fail(e, "expected a string (bytes), got %s", type_name(L, idx));
		size_t n;
		const char *s = lua_tolstring(L, idx, &n);
		ProtobufCBinaryData *b = dst;
		b->data = vk_xmalloc(n ? n : 1);
		memcpy(b->data, s, n);
		b->len = n;
		return 0;
	}
	case PROTOBUF_C_TYPE_MESSAGE: return enc_message(e, idx, f->descriptor, dst);
	}
	return fail(e, "unsupported field type %d", (int)f->type);
}

/* Counts the table's pairs and checks they form the sequence 1..n. */
static int check_sequence(enc *e, int idx, size_t *n)
{
	lua_State *L = e->L;
	size_t len = lua_rawlen(L, idx), count = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		count++;
		if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || (size_t)lua_tointeger(L, -1) > len) {
			int rc = fail(e, "expected an array, got a table with key '%s'",
			              lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
			lua_pop(L, 1);
			return rc;
		}
	}
	if (count != len)
		return fail(e, "expected an array, got a table with holes");
	*n = len;
	return 0;
}

static int enc_repeated(enc *e, int idx, const ProtobufCFieldDescriptor *f, char *m)
{
	lua_State *L = e->L;
	if (lua_type(L, idx) != LUA_TTABLE)
		return fail(e, "expected an array, got %s", type_name(L, idx));
	size_t n = 0;
	if (check_sequence(e, idx, &n) < 0)
		return -1;
	size_t *count = (size_t *)(m + f->quantifier_offset);
	void **arr = (void **)(m + f->offset);
	if (n == 0)
		return 0;
	size_t es = elem_size(f->type);
	*arr = vk_xcalloc(n, es);
	size_t base = e->path.len;
	for (size_t i = 0; i < n; i++) {
		lua_rawgeti(L, idx, (lua_Integer)i + 1);
		vk_buf_printf(&e->path, "[%zu]", i + 1);
		(*count)++;
		int rc = enc_value(e, lua_gettop(L), f, (char *)*arr + i * es);
		e->path.len = base;
		e->path.data[base] = '\0';
		lua_pop(L, 1);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int enc_map(enc *e, int idx, const ProtobufCFieldDescriptor *f, char *m)
{
	lua_State *L = e->L;
	if (lua_type(L, idx) != LUA_TTABLE)
		return fail(e, "expected a table of key = value, got %s", type_name(L, idx));
	size_t n = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		n++;
	}
	if (n == 0)
		return 0;
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	size_t *count = (size_t *)(m + f->quantifier_offset);
	ProtobufCMessage ***arr = (ProtobufCMessage ***)(m + f->offset);
	*arr = vk_xcalloc(n, sizeof(ProtobufCMessage *));
	size_t base = e->path.len;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		int kidx = lua_gettop(L) - 1, vidx = lua_gettop(L);
		/* Copy the key before formatting it: tostring on a number key
		 * would change it in place and break lua_next. */
		lua_pushvalue(L, kidx);
		const char *ks = luaL_tolstring(L, -1, NULL);
		vk_buf_printf(&e->path, "[\"%s\"]", ks);
		lua_pop(L, 2);
		char *entry = vk_xcalloc(1, ed->sizeof_message);
		protobuf_c_message_init(ed, entry);
		(*arr)[(*count)++] = (ProtobufCMessage *)entry;
		int rc = enc_value(e, kidx, &ed->fields[0], entry + ed->fields[0].offset);
		if (rc == 0)
			rc = enc_value(e, vidx, &ed->fields[1], entry + ed->fields[1].offset);
		e->path.len = base;
		e->path.data[base] = '\0';
		lua_pop(L, 1);
		if (rc < 0) {
			lua_pop(L, 1);
			return -1;
		}
	}
	return 0;
}

static int unknown_field(enc *e, const ProtobufCMessageDescriptor *d)
{
	vk_buf names = {0};
	for (unsigned i = 0; i < d->n_fields; i++)
		vk_buf_printf(&names, "%s%s", i ? ", " : "", d->fields[i].name);
	fail(e, "unknown field of %s (fields: %s)", d->name, names.len ? names.data : "none");
	vk_buf_free(&names);
	return -1;
}

static int enc_field(enc *e, int vidx, const ProtobufCFieldDescriptor *f, char *m)
{
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return is_map_entry(f) ? enc_map(e, vidx, f, m) : enc_repeated(e, vidx, f, m);
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		*(uint32_t *)(m + f->quantifier_offset) = f->id;
	else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset && f->type != PROTOBUF_C_TYPE_MESSAGE &&
	         f->type != PROTOBUF_C_TYPE_STRING)
		*(protobuf_c_boolean *)(m + f->quantifier_offset) = 1;
	return enc_value(e, vidx, f, m + f->offset);
}

static int enc_message(enc *e, int idx, const ProtobufCMessageDescriptor *d, ProtobufCMessage **slot)
{
	lua_State *L = e->L;
	if (lua_type(L, idx) != LUA_TTABLE)
		return fail(e, "expected a table (%s), got %s", d->name, type_name(L, idx));
	luaL_checkstack(L, 8, "vk.cri: message nesting");
	char *m = vk_xcalloc(1, d->sizeof_message);
	protobuf_c_message_init(d, m);
	*slot = (ProtobufCMessage *)m;

	size_t base = e->path.len;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		int vidx = lua_gettop(L);
		if (lua_type(L, -2) != LUA_TSTRING) {
			const char *kt = type_name(L, -2);
			lua_pop(L, 2);
			return fail(e, "expected a table of fields (%s), got a table with a %s key", d->name, kt);
		}
		const char *name = lua_tostring(L, -2);
		if (base)
			vk_buf_append(&e->path, ".", 1);
		vk_buf_append(&e->path, name, strlen(name));
		const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, name);
		int rc;
		if (!f)
			rc = unknown_field(e, d);
		else if (lua_type(L, vidx) == LUA_TLIGHTUSERDATA)
			rc = 0; /* vk.json.null: leave the field unset */
		else
			rc = enc_field(e, vidx, f, m);
		e->path.len = base;
		if (e->path.data)
			e->path.data[base] = '\0';
		lua_pop(L, 1);
		if (rc < 0) {
			lua_pop(L, 1);
			return -1;
		}
	}
	return 0;
}

int vk_lua__cri_encode(lua_State *L, int idx, const ProtobufCMessageDescriptor *d, ProtobufCMessage **out, char **err)
{
	idx = lua_absindex(L, idx);
	enc e = {.L = L};
	*out = NULL;
	int rc;
	if (lua_isnoneornil(L, idx)) {
		lua_newtable(L);
		rc = enc_message(&e, lua_gettop(L), d, out);
		lua_pop(L, 1);
	} else {
		rc = enc_message(&e, idx, d, out);
	}
	vk_buf_free(&e.path);
	if (rc < 0) {
		protobuf_c_message_free_unpacked(*out, NULL);
		*out = NULL;
		*err = e.err;
		return -1;
	}
	return 0;
}

/* ---- decode ------------------------------------------------------------ */

static void push_value(lua_State *L, const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32: lua_pushinteger(L, *(const int32_t *)p); break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: lua_pushinteger(L, *(const uint32_t *)p); break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64: lua_pushinteger(L, (lua_Integer) * (const int64_t *)p); break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: {
		uint64_t v = *(const uint64_t *)p;
		if (v > (uint64_t)LUA_MAXINTEGER)
			lua_pushnumber(L, (lua_Number)v);
		else
			lua_pushinteger(L, (lua_Integer)v);
		break;
	}
	case PROTOBUF_C_TYPE_FLOAT: lua_pushnumber(L, *(const float *)p); break;
	case PROTOBUF_C_TYPE_DOUBLE: lua_pushnumber(L, *(const double *)p); break;
	case PROTOBUF_C_TYPE_BOOL: lua_pushboolean(L, *(const protobuf_c_boolean *)p); break;
	case PROTOBUF_C_TYPE_ENUM: {
		int v = *(const int *)p;
		const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
		if (ev)
			lua_pushstring(L, ev->name);
		else
			lua_pushinteger(L, v);
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		lua_pushstring(L, s ? s : "");
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		lua_pushlstring(L, b->len ? (const char *)b->data : "", b->len);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
		if (sub)
			vk_lua__cri_push(L, sub);
		else
			lua_pushnil(L);
		break;
	}
	}
}

void vk_lua__cri_push(lua_State *L, const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	const char *m = (const char *)msg;
	luaL_checkstack(L, 8, "vk.cri: message nesting");
	lua_createtable(L, 0, (int)d->n_fields);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(m + f->quantifier_offset);
			const char *arr = *(char *const *)(m + f->offset);
			if (is_map_entry(f)) {
				const ProtobufCMessageDescriptor *ed = f->descriptor;
				lua_createtable(L, 0, (int)n);
				for (size_t j = 0; j < n; j++) {
					const char *entry = ((char *const *)arr)[j];
					push_value(L, &ed->fields[0], entry + ed->fields[0].offset);
					push_value(L, &ed->fields[1], entry + ed->fields[1].offset);
					lua_rawset(L, -3);
				}
			} else {
				size_t es = elem_size(f->type);
				lua_createtable(L, (int)n, 0);
				for (size_t j = 0; j < n; j++) {
					push_value(L, f, arr + j * es);
					lua_rawseti(L, -2, (lua_Integer)j + 1);
				}
				/* as vk.json.array: an empty list stays [] in JSON */
				vk_lua__json_mark_array(L, -1);
			}
		} else if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		           *(const uint32_t *)(m + f->quantifier_offset) != f->id) {
			continue;
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
		           f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING &&
		           !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		           !*(const protobuf_c_boolean *)(m + f->quantifier_offset)) {
			continue;
		} else {
			if (f->type == PROTOBUF_C_TYPE_MESSAGE && !*(void *const *)(m + f->offset))
				continue;
			push_value(L, f, m + f->offset);
		}
		lua_setfield(L, -2, f->name);
	}
}
