/* Packed text: many similar JSON texts in a fraction of their size.
 *
 * Raw deflate (no zlib header) with a preset dictionary: the first text a
 * store packs.  Objects of one kind share most of their bytes (keys, default
 * values, the service-account volume of every pod), so a pod of ~3 KiB packs
 * to a few hundred bytes, where deflate alone would leave ~1 KiB.  One
 * decompressor serves every store, and each pack makes its own compressor
 * (below); vk calls this from its loop thread only.
 *
 * A blob is a header and the bytes:
 *   uint32 length of the text, uint32 length of the packed bytes (0: the
 *   text is stored as is), uint32 the dictionary's generation (0: none). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "vk/util.h"

#define WINDOW_BITS 13 /* 8 KiB: a pod and the dictionary fit */
#define MEM_LEVEL 4
#define DICT_MAX (1u << WINDOW_BITS)
#define DICT_MIN 256    /* shorter texts make a poor dictionary */
#define MAX_RATIO 1032u /* deflate's largest expansion: a 258-byte match in 2 bits */

struct vk_ztext {
	char *dict;
	size_t dict_len;
};

typedef struct {
	uint32_t len, zlen, flags;
} blob_head;

#define HAS_DICT 1u

/* The decompressor is kept: a store unpacks on every read.  A compressor
 * holds 46 KiB (its window, hash chains and output buffer) and packs only
 * when an object changes, so each pack makes its own: that costs a few
 * mallocs against the deflate of a pod, and an idle vk does not keep it. */
static z_stream inf;
static bool inf_ok;

vk_ztext *vk_ztext_new(void) { return vk_xcalloc(1, sizeof(vk_ztext)); }

void vk_ztext_free(vk_ztext *z)
{
	if (!z)
		return;
	free(z->dict);
	free(z);
}

static void *stored(const char *text, size_t len)
{
	blob_head h = {(uint32_t)len, 0, 0};
	char *b = vk_xmalloc(sizeof h + len);
	memcpy(b, &h, sizeof h);
	memcpy(b + sizeof h, text, len);
	return b;
}

void *vk_ztext_pack(vk_ztext *z, const char *text, size_t len)
{
	if (len > UINT32_MAX / 2)
		return NULL;
	if (!z->dict && len >= DICT_MIN) {
		z->dict_len = len < DICT_MAX ? len : DICT_MAX;
		z->dict = vk_xmalloc(z->dict_len);
		memcpy(z->dict, text + len - z->dict_len, z->dict_len);
	}
	z_stream def = {0};
	if (deflateInit2(&def, Z_BEST_SPEED, Z_DEFLATED, -WINDOW_BITS, MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK)
		return stored(text, len);
	if (z->dict && deflateSetDictionary(&def, (const Bytef *)z->dict, (uInt)z->dict_len) != Z_OK) {
		deflateEnd(&def);
		return stored(text, len);
	}
	size_t cap = deflateBound(&def, len);
	blob_head h = {(uint32_t)len, 0, z->dict ? HAS_DICT : 0};
	char *b = vk_xmalloc(sizeof h + cap);
	def.next_in = (Bytef *)text;
	def.avail_in = (uInt)len;
	def.next_out = (Bytef *)b + sizeof h;
	def.avail_out = (uInt)cap;
	int zrc = deflate(&def, Z_FINISH);
	size_t out = cap - def.avail_out;
	deflateEnd(&def);
	if (zrc != Z_STREAM_END || out >= len) {
		free(b);
		return stored(text, len); /* not smaller: keep it as it is */
	}
	h.zlen = (uint32_t)out;
	memcpy(b, &h, sizeof h);
	char *shrunk = realloc(b, sizeof h + h.zlen);
	return shrunk ? shrunk : b;
}

char *vk_ztext_unpack(const vk_ztext *z, const void *blob)
{
	blob_head h;
	memcpy(&h, blob, sizeof h);
	const char *data = (const char *)blob + sizeof h;
	char *out = vk_xmalloc((size_t)h.len + 1);
	if (h.zlen == 0) {
		memcpy(out, data, h.len);
		out[h.len] = '\0';
		return out;
	}
	if (!inf_ok) {
		if (inflateInit2(&inf, -WINDOW_BITS) != Z_OK)
			goto fail;
		inf_ok = true;
	} else if (inflateReset(&inf) != Z_OK) {
		goto fail;
	}
	if ((h.flags & HAS_DICT) &&
	    (!z->dict || inflateSetDictionary(&inf, (const Bytef *)z->dict, (uInt)z->dict_len) != Z_OK))
		goto fail;
	inf.next_in = (Bytef *)data;
	inf.avail_in = h.zlen;
	inf.next_out = (Bytef *)out;
	inf.avail_out = h.len;
	if (inflate(&inf, Z_FINISH) != Z_STREAM_END || inf.avail_out != 0)
		goto fail;
	out[h.len] = '\0';
	return out;
fail:
	free(out);
	return NULL;
}

bool vk_ztext_check(const void *blob, size_t n)
{
	blob_head h;
	if (n < sizeof h)
		return false;
	memcpy(&h, blob, sizeof h);
	/* Deflate expands a byte to at most MAX_RATIO: a blob claiming more is
	 * not one pack made, and unpacking it would allocate up to 4 GiB. */
	if (h.zlen && (uint64_t)h.len > (uint64_t)h.zlen * MAX_RATIO)
		return false;
	return (h.flags & ~HAS_DICT) == 0 && n == sizeof h + (h.zlen ? h.zlen : h.len);
}

size_t vk_ztext_len(const void *blob)
{
	blob_head h;
	memcpy(&h, blob, sizeof h);
	return h.len;
}

size_t vk_ztext_size(const void *blob)
{
	blob_head h;
	memcpy(&h, blob, sizeof h);
	return sizeof h + (h.zlen ? h.zlen : h.len);
}
