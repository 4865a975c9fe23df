/* base64: kubeconfig *-data fields, Secret data, vk.k8s. */
#include <errno.h>
#include <stdint.h>

#include "vk/util.h"

static int sextet(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

int vk_base64_decode(const char *in, size_t len, vk_buf *out)
{
	uint32_t acc = 0;
	int bits = 0, pad = 0;
	size_t n = 0; /* significant characters, padding included */
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];
		if (ch == '\n' || ch == '\r' || ch == ' ' || ch == '\t')
			continue;
		n++;
		if (ch == '=') {
			pad++;
			continue;
		}
		int v = sextet(ch);
		if (v < 0 || pad) /* a bad character, or data after padding */
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			unsigned char byte = (unsigned char)(acc >> bits);
			vk_buf_append(out, &byte, 1);
		}
	}
	/* 1 leftover character cannot encode a byte; padding must fill the quad. */
	if (bits >= 6 || pad > 2 || (pad && n % 4 != 0))
		return -EINVAL;
	return 0;
}

void vk_base64_encode(const void *in, size_t len, vk_buf *out)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = in;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		char q[4] = {abc[v >> 18], abc[(v >> 12) & 63], i + 1 < len ? abc[(v >> 6) & 63] : '=',
		             i + 2 < len ? abc[v & 63] : '='};
		vk_buf_append(out, q, 4);
	}
}
