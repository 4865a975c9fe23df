/* SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00, "SPDY Protocol - Draft
 * 3.1"): pure functions on buffers, unit-tested in tests/unit/test_spdy.c.
 *
 * Control frame: 1 bit 1, 15 bits version (3), 16 bits type, 8 bits flags,
 * 24 bits length, payload.  Data frame: 1 bit 0, 31 bits stream id, 8 bits
 * flags, 24 bits length, payload.  Header blocks: a 32-bit count, then per
 * pair a 32-bit length and the name, a 32-bit length and the value, all
 * compressed by one zlib stream per direction (flushed after each block)
 * primed with the dictionary below. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spdy.h"

/* The dictionary: header names, each after its 32-bit big-endian length,
 * then a run of common values (section 2.6.10.1 of the draft). */
static const char *const dict_words[] = {
	"options",
	"head",
	"post",
	"put",
	"delete",
	"trace",
	"accept",
	"accept-charset",
	"accept-encoding",
	"accept-language",
	"accept-ranges",
	"age",
	"allow",
	"authorization",
	"cache-control",
	"connection",
	"content-base",
	"content-encoding",
	"content-language",
	"content-length",
	"content-location",
	"content-md5",
	"content-range",
	"content-type",
	"date",
	"etag",
	"expect",
	"expires",
	"from",
	"host",
	"if-match",
	"if-modified-since",
	"if-none-match",
	"if-range",
	"if-unmodified-since",
	"last-modified",
	"location",
	"max-forwards",
	"pragma",
	"proxy-authenticate",
	"proxy-authorization",
	"range",
	"referer",
	"retry-after",
	"server",
	"te",
	"trailer",
	"transfer-encoding",
	"upgrade",
	"user-agent",
	"vary",
	"via",
	"warning",
	"www-authenticate",
	"method",
	"get",
	"status",
	"200 OK",
	"version",
	"HTTP/1.1",
	"url",
	"public",
	"set-cookie",
	"keep-alive",
	"origin",
};
static const char dict_tail[] =
	"100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
	"203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
	"403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
	"Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
	"chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
	"text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

const uint8_t *vk_spdy_dictionary(void)
{
	static uint8_t dict[VK_SPDY_DICT_LEN];
	static bool built;
	if (!built) {
		size_t off = 0;
		for (size_t i = 0; i < VK_ARRAY_LEN(dict_words); i++) {
			size_t n = strlen(dict_words[i]);
			put32(dict + off, (uint32_t)n);
			memcpy(dict + off + 4, dict_words[i], n);
			off += 4 + n;
		}
		memcpy(dict + off, dict_tail, sizeof dict_tail - 1);
		built = off + sizeof dict_tail - 1 == VK_SPDY_DICT_LEN;
		if (!built)
			abort(); /* the table above is wrong: a programming error */
	}
	return dict;
}

/* Minimum payload of each control frame type. */
static uint32_t min_payload(uint16_t type)
{
	switch (type) {
	case VK_SPDY_SYN_STREAM: return 10;
	case VK_SPDY_SYN_REPLY: return 4;
	case VK_SPDY_RST_STREAM: return 8;
	case VK_SPDY_SETTINGS: return 4;
	case VK_SPDY_PING: return 4;
	case VK_SPDY_GOAWAY: return 8;
	case VK_SPDY_HEADERS: return 4;
	case VK_SPDY_WINDOW_UPDATE: return 8;
	default: return 0;
	}
}

ssize_t vk_spdy_parse(const uint8_t *buf, size_t len, size_t max, vk_spdy_frame *f)
{
	if (len < 8)
		return 0;
	memset(f, 0, sizeof *f);
	uint32_t w0 = get32(buf), w1 = get32(buf + 4);
	f->flags = (uint8_t)(w1 >> 24);
	f->len = w1 & 0xffffff;
	if (f->len > max)
		return -EPROTO;
	f->control = (w0 & 0x80000000u) != 0;
	if (f->control) {
		f->version = (uint16_t)((w0 >> 16) & 0x7fff);
		f->type = (uint16_t)(w0 & 0xffff);
		if (f->version != 3)
			return -EPROTO;
		if (f->len < min_payload(f->type))
			return -EPROTO;
	} else {
		f->stream_id = w0 & 0x7fffffff;
	}
	if (len < 8 + (size_t)f->len)
		return 0;
	f->payload = buf + 8;
	if (f->control && f->type != VK_SPDY_SETTINGS && f->type != VK_SPDY_PING && f->len >= 4)
		f->stream_id = get32(f->payload) & 0x7fffffff; /* GOAWAY: the last good id */
	return 8 + (ssize_t)f->len;
}

/* ---- header blocks ------------------------------------------------------- */

void vk_spdy_zlib_init(vk_spdy_zlib *z)
{
	memset(z, 0, sizeof *z);
	z->in_ok = inflateInit(&z->in) == Z_OK;
	z->out_ok = deflateInit(&z->out, Z_DEFAULT_COMPRESSION) == Z_OK &&
	            deflateSetDictionary(&z->out, vk_spdy_dictionary(), VK_SPDY_DICT_LEN) == Z_OK;
}

void vk_spdy_zlib_free(vk_spdy_zlib *z)
{
	inflateEnd(&z->in);
	deflateEnd(&z->out);
}

void vk_spdy_headers_free(vk_spdy_header *hs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(hs[i].name);
		free(hs[i].value);
	}
	free(hs);
}

const char *vk_spdy_header_get(const vk_spdy_header *hs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(hs[i].name, name) == 0)
			return hs[i].value;
	return NULL;
}

#define MAX_HEADER_BLOCK (256 * 1024)

static int inflate_block(vk_spdy_zlib *z, const uint8_t *block, size_t len, vk_buf *out, char **err)
{
	if (!z->in_ok) {
		*err = vk_strdup("zlib did not start");
		return -EPROTO;
	}
	z->in.next_in = (Bytef *)block;
	z->in.avail_in = (uInt)len;
	uint8_t tmp[4096];
	for (;;) {
		z->in.next_out = tmp;
		z->in.avail_out = sizeof tmp;
		int rc = inflate(&z->in, Z_SYNC_FLUSH);
		if (rc == Z_NEED_DICT) { /* the first block asks for the dictionary */
			if (inflateSetDictionary(&z->in, vk_spdy_dictionary(), VK_SPDY_DICT_LEN) != Z_OK) {
				*err = vk_strdup("header block: the peer's zlib dictionary is not SPDY/3's");
				return -EPROTO;
			}
			continue;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			*err = vk_asprintf("header block: zlib: %s", z->in.msg ? z->in.msg : "error");
			return -EPROTO;
		}
		vk_buf_append(out, tmp, sizeof tmp - z->in.avail_out);
		if (out->len > MAX_HEADER_BLOCK) {
			*err = vk_strdup("header block: larger than 256 KiB");
			return -EPROTO;
		}
		if (rc == Z_BUF_ERROR || (z->in.avail_in == 0 && z->in.avail_out != 0))
			break;
	}
	return 0;
}

int vk_spdy_headers_decode(vk_spdy_zlib *z, const uint8_t *block, size_t len, vk_spdy_header **hs, size_t *n,
                           char **err)
{
	*hs = NULL;
	*n = 0;
	*err = NULL;
	vk_buf b = {0};
	if (inflate_block(z, block, len, &b, err) < 0) {
		vk_buf_free(&b);
		return -EPROTO;
	}
	const uint8_t *p = (const uint8_t *)b.data, *end = p + b.len;
	if (end - p < 4) {
		*err = vk_strdup("header block: shorter than its count");
		vk_buf_free(&b);
		return -EPROTO;
	}
	uint32_t count = get32(p);
	p += 4;
	if (count > 1024) {
		*err = vk_asprintf("header block: %u headers", count);
		vk_buf_free(&b);
		return -EPROTO;
	}
	vk_spdy_header *out = vk_xcalloc(count ? count : 1, sizeof *out);
	size_t got = 0;
	for (; got < count; got++) {
		uint32_t l;
		if (end - p < 4 || (l = get32(p), (size_t)(end - p - 4) < l) || l == 0)
			break;
		out[got].name = vk_asprintf("%.*s", (int)l, (const char *)p + 4);
		p += 4 + l;
		if (end - p < 4 || (l = get32(p), (size_t)(end - p - 4) < l)) {
			free(out[got].name);
			break;
		}
		out[got].value = vk_xmalloc(l + 1);
		memcpy(out[got].value, p + 4, l);
		out[got].value[l] = 0;
		out[got].value_len = l;
		p += 4 + l;
		for (char *c = out[got].name; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
	}
	vk_buf_free(&b);
	if (got < count) {
		*err = vk_asprintf("header block: pair %zu of %u is cut short", got + 1, count);
		vk_spdy_headers_free(out, got);
		return -EPROTO;
	}
	*hs = out;
	*n = count;
	return 0;
}

static int deflate_block(vk_spdy_zlib *z, const vk_spdy_header *hs, size_t n, vk_buf *out)
{
	vk_buf raw = {0};
	uint8_t w[4];
	put32(w, (uint32_t)n);
	vk_buf_append(&raw, w, 4);
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(hs[i].name), vl = hs[i].value_len ? hs[i].value_len : strlen(hs[i].value);
		put32(w, (uint32_t)nl);
		vk_buf_append(&raw, w, 4);
		vk_buf_append(&raw, hs[i].name, nl);
		put32(w, (uint32_t)vl);
		vk_buf_append(&raw, w, 4);
		vk_buf_append(&raw, hs[i].value, vl);
	}
	if (!z->out_ok) {
		vk_buf_free(&raw);
		return -EPROTO;
	}
	z->out.next_in = (Bytef *)raw.data;
	z->out.avail_in = (uInt)raw.len;
	uint8_t tmp[4096];
	int rc;
	do {
		z->out.next_out = tmp;
		z->out.avail_out = sizeof tmp;
		rc = deflate(&z->out, Z_SYNC_FLUSH);
		vk_buf_append(out, tmp, sizeof tmp - z->out.avail_out);
	} while (rc == Z_OK && z->out.avail_out == 0);
	vk_buf_free(&raw);
	return rc == Z_OK || rc == Z_BUF_ERROR ? 0 : -EPROTO;
}

/* ---- builders ---------------------------------------------------------------- */

static void put_control(vk_buf *out, uint16_t type, uint8_t flags, uint32_t len)
{
	uint8_t h[8];
	put32(h, 0x80000000u | 3u << 16 | type);
	put32(h + 4, (uint32_t)flags << 24 | (len & 0xffffff));
	vk_buf_append(out, h, 8);
}

void vk_spdy_put_data(vk_buf *out, uint32_t id, uint8_t flags, const void *data, size_t len)
{
	uint8_t h[8];
	put32(h, id & 0x7fffffff);
	put32(h + 4, (uint32_t)flags << 24 | ((uint32_t)len & 0xffffff));
	vk_buf_append(out, h, 8);
	if (len)
		vk_buf_append(out, data, len);
}

static int put_with_block(vk_buf *out, vk_spdy_zlib *z, uint16_t type, uint8_t flags, const uint8_t *fixed, size_t flen,
                          const vk_spdy_header *hs, size_t n)
{
	vk_buf block = {0};
	if (deflate_block(z, hs, n, &block) < 0) {
		vk_buf_free(&block);
		return -EPROTO;
	}
	put_control(out, type, flags, (uint32_t)(flen + block.len));
	vk_buf_append(out, fixed, flen);
	vk_buf_append(out, block.data, block.len);
	vk_buf_free(&block);
	return 0;
}

int vk_spdy_put_syn_stream(vk_buf *out, vk_spdy_zlib *z, uint32_t id, uint8_t flags, const vk_spdy_header *hs, size_t n)
{
	uint8_t fixed[10] = {0};
	put32(fixed, id & 0x7fffffff);
	return put_with_block(out, z, VK_SPDY_SYN_STREAM, flags, fixed, sizeof fixed, hs, n);
}

int vk_spdy_put_syn_reply(vk_buf *out, vk_spdy_zlib *z, uint32_t id, uint8_t flags, const vk_spdy_header *hs, size_t n)
{
	uint8_t fixed[4];
	put32(fixed, id & 0x7fffffff);
	return put_with_block(out, z, VK_SPDY_SYN_REPLY, flags, fixed, sizeof fixed, hs, n);
}

static void put_two(vk_buf *out, uint16_t type, uint32_t a, uint32_t b)
{
	uint8_t p[8];
	put32(p, a);
	put32(p + 4, b);
	put_control(out, type, 0, 8);
	vk_buf_append(out, p, 8);
}

void vk_spdy_put_rst(vk_buf *out, uint32_t id, uint32_t status)
{
	put_two(out, VK_SPDY_RST_STREAM, id & 0x7fffffff, status);
}
void vk_spdy_put_goaway(vk_buf *out, uint32_t last_good, uint32_t status)
{
	put_two(out, VK_SPDY_GOAWAY, last_good & 0x7fffffff, status);
}
void vk_spdy_put_window_update(vk_buf *out, uint32_t id, uint32_t delta)
{
	put_two(out, VK_SPDY_WINDOW_UPDATE, id & 0x7fffffff, delta & 0x7fffffff);
}

void vk_spdy_put_ping(vk_buf *out, uint32_t id)
{
	uint8_t p[4];
	put32(p, id);
	put_control(out, VK_SPDY_PING, 0, 4);
	vk_buf_append(out, p, 4);
}
