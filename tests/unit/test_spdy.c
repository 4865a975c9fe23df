/* server/spdy_frame.c: SPDY/3.1 frames and header blocks, pure logic. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "spdy.h"
#include "tap.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void dictionary(void)
{
	const uint8_t *d = vk_spdy_dictionary();
	ok(memcmp(d, "\0\0\0\7options\0\0\0\4head", 19) == 0, "the dictionary starts with the length-prefixed names");
	ok(memcmp(d + VK_SPDY_DICT_LEN - 6, "enq=0.", 6) == 0, "the dictionary ends with the value run's last bytes");
	/* kubectl's zlib checks this id when it inflates vk's first header
	 * block (the e2e tests prove the value); here it guards edits */
	uLong id = adler32(adler32(0, NULL, 0), d, VK_SPDY_DICT_LEN);
	is_int(id, 0xe3c6a7c2u, "the dictionary's zlib id is SPDY/3's (%#lx)", id);
}

static void parse(void)
{
	vk_buf b = {0};
	vk_spdy_put_data(&b, 5, VK_SPDY_FLAG_FIN, "hello", 5);
	vk_spdy_frame f;
	is_int(vk_spdy_parse((uint8_t *)b.data, 7, VK_SPDY_MAX_FRAME, &f), 0, "fewer than 8 bytes: more are needed");
	is_int(vk_spdy_parse((uint8_t *)b.data, b.len - 1, VK_SPDY_MAX_FRAME, &f), 0,
	       "a payload cut short: more are needed");
	ssize_t n = vk_spdy_parse((uint8_t *)b.data, b.len, VK_SPDY_MAX_FRAME, &f);
	ok(n == 13 && !f.control && f.stream_id == 5 && f.flags == VK_SPDY_FLAG_FIN && f.len == 5 &&
	           memcmp(f.payload, "hello", 5) == 0,
	   "a data frame: stream id, FIN, payload (%zd bytes)", n);
	is_int(vk_spdy_parse((uint8_t *)b.data, b.len, 4, &f), -EPROTO, "a frame longer than the limit is refused");
	vk_buf_reset(&b);

	vk_spdy_put_rst(&b, 7, VK_SPDY_RST_CANCEL);
	vk_spdy_put_goaway(&b, 9, 0);
	vk_spdy_put_ping(&b, 11);
	vk_spdy_put_window_update(&b, 3, 65536);
	const uint8_t *p = (uint8_t *)b.data;
	size_t left = b.len;
	static const uint16_t types[] = {VK_SPDY_RST_STREAM, VK_SPDY_GOAWAY, VK_SPDY_PING, VK_SPDY_WINDOW_UPDATE};
	static const uint32_t ids[] = {7, 9, 0, 3};
	bool all = true;
	for (int i = 0; i < 4; i++) {
		n = vk_spdy_parse(p, left, VK_SPDY_MAX_FRAME, &f);
		all = all && n > 0 && f.control && f.version == 3 && f.type == types[i];
		if (i != 2)
			all = all && f.stream_id == ids[i];
		if (n <= 0)
			break;
		p += n;
		left -= (size_t)n;
	}
	ok(all && left == 0, "RST_STREAM, GOAWAY, PING and WINDOW_UPDATE parse back with their types and ids");
	p = (uint8_t *)b.data;
	ok(be32(p + 12) == VK_SPDY_RST_CANCEL && be32(p + 16 + 12) == 0 && be32(p + 32 + 8) == 11 &&
	           be32(p + 44 + 12) == 65536,
	   "their status, ping id and delta are where SPDY/3 puts them");

	uint8_t v2[8] = {0x80, 0x02, 0x00, 0x06, 0, 0, 0, 0};
	is_int(vk_spdy_parse(v2, 8, VK_SPDY_MAX_FRAME, &f), -EPROTO, "a SPDY/2 control frame is refused");
	uint8_t short_rst[12] = {0x80, 0x03, 0x00, 0x03, 0, 0, 0, 4, 0, 0, 0, 1};
	is_int(vk_spdy_parse(short_rst, 12, VK_SPDY_MAX_FRAME, &f), -EPROTO,
	       "a control frame too short for its type is refused");
	vk_buf_free(&b);
}

static void headers(void)
{
	vk_spdy_zlib client, server;
	vk_spdy_zlib_init(&client);
	vk_spdy_zlib_init(&server);
	vk_spdy_header h1[] = {{"streamtype", "data", 0}, {"port", "8080", 0}, {"requestid", "0", 0}};
	vk_spdy_header h2[] = {{"streamtype", "error", 0}, {"Port", "8080", 0}, {"requestid", "0", 0}};
	vk_buf b = {0};
	ok(vk_spdy_put_syn_stream(&b, &client, 1, 0, h1, 3) == 0 &&
	           vk_spdy_put_syn_stream(&b, &client, 3, VK_SPDY_FLAG_FIN, h2, 3) == 0,
	   "two SYN_STREAMs are built on one compression stream");
	vk_spdy_frame f;
	ssize_t n = vk_spdy_parse((uint8_t *)b.data, b.len, VK_SPDY_MAX_FRAME, &f);
	vk_spdy_header *hs = NULL;
	size_t nh = 0;
	char *err = NULL;
	int rc = n > 0 ? vk_spdy_headers_decode(&server, f.payload + 10, f.len - 10, &hs, &nh, &err) : -1;
	ok(rc == 0 && nh == 3 && f.type == VK_SPDY_SYN_STREAM && f.stream_id == 1 &&
	           tap_streq(vk_spdy_header_get(hs, nh, "streamtype"), "data") &&
	           tap_streq(vk_spdy_header_get(hs, nh, "port"), "8080"),
	   "the first block inflates (with the dictionary) to its headers (%s)", err ? err : "ok");
	vk_spdy_headers_free(hs, nh);
	free(err);
	err = NULL;
	ssize_t n2 = vk_spdy_parse((uint8_t *)b.data + n, b.len - (size_t)n, VK_SPDY_MAX_FRAME, &f);
	rc = n2 > 0 ? vk_spdy_headers_decode(&server, f.payload + 10, f.len - 10, &hs, &nh, &err) : -1;
	ok(rc == 0 && nh == 3 && f.stream_id == 3 && f.flags == VK_SPDY_FLAG_FIN &&
	           tap_streq(vk_spdy_header_get(hs, nh, "streamtype"), "error") &&
	           tap_streq(vk_spdy_header_get(hs, nh, "port"), "8080"),
	   "the second block inflates on the same stream; names come out lower case (%s)", err ? err : "ok");
	vk_spdy_headers_free(hs, nh);
	free(err);

	vk_buf_reset(&b);
	ok(vk_spdy_put_syn_reply(&b, &server, 1, 0, NULL, 0) == 0, "an empty SYN_REPLY is built");
	n = vk_spdy_parse((uint8_t *)b.data, b.len, VK_SPDY_MAX_FRAME, &f);
	err = NULL;
	rc = n > 0 ? vk_spdy_headers_decode(&client, f.payload + 4, f.len - 4, &hs, &nh, &err) : -1;
	ok(rc == 0 && nh == 0 && f.type == VK_SPDY_SYN_REPLY && f.stream_id == 1,
	   "the SYN_REPLY parses back to stream 1 with no headers (%s)", err ? err : "ok");
	vk_spdy_headers_free(hs, nh);
	free(err);

	vk_spdy_zlib fresh;
	vk_spdy_zlib_init(&fresh);
	err = NULL;
	rc = vk_spdy_headers_decode(&fresh, (const uint8_t *)"not zlib at all", 15, &hs, &nh, &err);
	ok(rc == -EPROTO && err && strstr(err, "header block"), "a block that is not zlib is refused: %s",
	   err ? err : "(no message)");
	free(err);
	vk_spdy_zlib_free(&fresh);

	/* a well-compressed block whose count promises more pairs than it has */
	vk_spdy_zlib_init(&fresh);
	uint8_t raw[8] = {0, 0, 0, 2, 0, 0, 0, 1};
	uint8_t z[64];
	fresh.out.next_in = raw;
	fresh.out.avail_in = sizeof raw;
	fresh.out.next_out = z;
	fresh.out.avail_out = sizeof z;
	deflate(&fresh.out, Z_SYNC_FLUSH);
	err = NULL;
	rc = vk_spdy_headers_decode(&fresh, z, sizeof z - fresh.out.avail_out, &hs, &nh, &err);
	ok(rc == -EPROTO && err && strstr(err, "cut short"), "a block cut short names the pair: %s",
	   err ? err : "(no message)");
	free(err);
	vk_spdy_zlib_free(&fresh);

	vk_buf_free(&b);
	vk_spdy_zlib_free(&client);
	vk_spdy_zlib_free(&server);
}

int main(void)
{
	dictionary();
	parse();
	headers();
	return tap_done();
}
