/* vk_buf: growable, NUL-terminated byte buffer; small string helpers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk/util.h"

static void oom(void);

static void grow(vk_buf *b, size_t need)
{
	if (b->len + need + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + need + 1)
		cap *= 2;
	b->data = vk_xrealloc(b->data, cap);
	b->cap = cap;
}

void vk_buf_append(vk_buf *b, const void *p, size_t n)
{
	grow(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void vk_buf_printf(vk_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) { /* EOVERFLOW or EILSEQ: a format vk itself got wrong */
		fprintf(stderr, "vk: vk_buf_printf: bad format \"%s\"\n", fmt);
		abort();
	}
	grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void vk_buf_consume(vk_buf *b, size_t n)
{
	if (n >= b->len) {
		vk_buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void vk_buf_reset(vk_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void vk_buf_free(vk_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *vk_buf_steal(vk_buf *b)
{
	char *p = b->data ? b->data : vk_strdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

static void oom(void)
{
	fputs("vk: out of memory\n", stderr);
	abort();
}

void *vk_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *vk_xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);
	if (!p)
		oom();
	return p;
}

void *vk_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom();
	return q;
}

char *vk_memdupz(const void *p, size_t len)
{
	char *out = vk_xmalloc(len + 1);
	if (len)
		memcpy(out, p, len);
	out[len] = '\0';
	return out;
}

char *vk_strdup(const char *s)
{
	if (!s)
		return NULL;
	char *p = strdup(s);
	if (!p)
		oom();
	return p;
}

char *vk_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *out = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&out, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	return out;
}

uint64_t vk_hash64(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h ? h : 1;
}

int vk_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
