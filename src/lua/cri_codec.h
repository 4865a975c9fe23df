/* cri_codec.h - Lua tables <-> protobuf-c messages, driven by descriptors.
 *
 * Private to src/lua (bind_cri.c) and its unit test.  The mapping:
 *   field names     the proto's snake_case names ("pod_sandbox_id");
 *   messages        tables; an absent sub-message is nil, {} is an empty one;
 *   repeated        sequences {a, b, c} (decoded ones marked as vk.json
 *                   arrays, so that an empty one stays [] in JSON);
 *   map<K, V>       tables {key = value} (repeated *Entry messages on the wire);
 *   enums           their names ("CONTAINER_RUNNING") or numbers on the way
 *                   in, their names (numbers when unknown) on the way out;
 *   bytes/strings   Lua strings (bytes are binary-safe);
 *   [u]int32/64     Lua integers (a uint64 above 2^63-1 comes out a float);
 *   bool            booleans.
 * Decoded tables carry every scalar field with its proto3 default, every
 * repeated field and map as a (maybe empty) table, and sub-messages only
 * when present.  On the way in, a light userdata value (vk.json.null) is
 * taken as "field absent". */
#ifndef VK_LUA_CRI_CODEC_H
#define VK_LUA_CRI_CODEC_H

#include <lua.h>
#include <protobuf-c/protobuf-c.h>

/* Encodes the table at idx (nil is an empty message) as a message of type
 * d.  *out is set as soon as the root exists, so that a Lua memory error
 * raised midway leaves a consistent, freeable message there (the caller
 * holds it in a guard).  Returns 0 with *out complete, or -1 with *out
 * freed and set to NULL and *err (malloc'd) naming the bad field by its
 * path, e.g. "config.metadata.nmae: unknown field of runtime.v1.PodSandboxMetadata
 * (fields: name, uid, namespace, attempt)". */
int vk_lua__cri_encode(lua_State *L, int idx, const ProtobufCMessageDescriptor *d, ProtobufCMessage **out, char **err);

/* Pushes msg as a table (may raise only on memory errors). */
void vk_lua__cri_push(lua_State *L, const ProtobufCMessage *msg);

#endif
