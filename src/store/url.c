/* url.c - parsing --store URLs:
 *   embedded | redis://[:PASSWORD@]HOST:PORT[/DB] | etcd://HOST:PORT
 * Errors are one line naming the URL and what is wrong. */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define REDIS_FORM "redis://[:PASSWORD@]HOST:PORT[/DB]"
#define ETCD_FORM "etcd://HOST:PORT"

/* The URL as messages show it: a password is replaced by "***". */
static char *masked(const char *url)
{
	const char *s = strstr(url, "://"), *at = strrchr(url, '@');
	if (!s || !at || at < s)
		return vk_strdup(url);
	return vk_asprintf("%.*s:***%s", (int)(s + 3 - url), url, at);
}

static int bad(char **err, const char *url, const char *why, const char *form)
{
	if (err) {
		char *m = masked(url);
		*err = vk_asprintf("--store '%s': %s (expected %s)", m, why, form);
		free(m);
	}
	return VK_STORE_EINVAL;
}

/* A decimal in [lo, hi] filling all of [p, end). */
static bool number(const char *p, const char *end, long lo, long hi, long *out)
{
	if (p == end || end - p > 10)
		return false;
	long v = 0;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	if (v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

int vk_store_url_parse(const char *url, vk_store_url *out, char **err)
{
	memset(out, 0, sizeof *out);
	if (err)
		*err = NULL;
	if (!url || !*url || strcmp(url, "embedded") == 0) {
		out->kind = VK_STORE_EMBEDDED;
		return 0;
	}
	const char *form, *rest;
	if (strncmp(url, "redis://", 8) == 0) {
		out->kind = VK_STORE_REDIS;
		form = REDIS_FORM;
		rest = url + 8;
	} else if (strncmp(url, "etcd://", 7) == 0) {
		out->kind = VK_STORE_ETCD;
		form = ETCD_FORM;
		rest = url + 7;
	} else {
		const char *colon = strstr(url, "://");
		if (!colon)
			return bad(err, url, "not a URL and not 'embedded'", "embedded, " REDIS_FORM " or " ETCD_FORM);
		return bad(err, url, "unknown scheme", "embedded, " REDIS_FORM " or " ETCD_FORM);
	}
	for (const char *p = rest; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return bad(err, url, "contains a blank or control character", form);

	const char *at = strrchr(rest, '@');
	if (at) {
		if (out->kind != VK_STORE_REDIS)
			return bad(err, url, "credentials are not supported here", form);
		if (rest[0] != ':' || at == rest + 1)
			return bad(err, url, "a password is written ':PASSWORD@'", form);
		out->password = vk_xmalloc((size_t)(at - rest));
		memcpy(out->password, rest + 1, (size_t)(at - rest - 1));
		out->password[at - rest - 1] = 0;
		rest = at + 1;
	}
	const char *slash = strchr(rest, '/');
	const char *hp_end = slash ? slash : rest + strlen(rest);
	const char *hp_colon = NULL;
	const char *host = rest, *host_end;
	if (*rest == '[') { /* [IPv6]:PORT */
		const char *close = memchr(rest, ']', (size_t)(hp_end - rest));
		if (!close)
			goto no_bracket;
		host = rest + 1;
		host_end = close;
		if (close + 1 < hp_end && close[1] == ':')
			hp_colon = close + 1;
	} else {
		for (const char *p = rest; p < hp_end; p++)
			if (*p == ':')
				hp_colon = p;
		host_end = hp_colon ? hp_colon : hp_end;
	}
	if (host == host_end) {
		vk_store_url_free(out);
		return bad(err, url, "no host", form);
	}
	if (!hp_colon || hp_colon + 1 == hp_end) {
		vk_store_url_free(out);
		return bad(err, url, "no port", form);
	}
	long port;
	if (!number(hp_colon + 1, hp_end, 1, 65535, &port)) {
		vk_store_url_free(out);
		return bad(err, url, "the port is not a number in 1-65535", form);
	}
	if (slash) {
		long db;
		if (out->kind != VK_STORE_REDIS || slash[1] == 0) {
			if (!(out->kind != VK_STORE_REDIS && slash[1] == 0)) {
				vk_store_url_free(out);
				return bad(err, url,
				           out->kind == VK_STORE_REDIS ? "empty database number"
				                                       : "a path is not supported",
				           form);
			}
		} else if (!number(slash + 1, slash + strlen(slash), 0, 1 << 20, &db)) {
			vk_store_url_free(out);
			return bad(err, url, "the database is not a number", form);
		} else {
			out->db = (int)db;
		}
	}
	out->host = vk_xmalloc((size_t)(host_end - host) + 1);
	memcpy(out->host, host, (size_t)(host_end - host));
	out->host[host_end - host] = 0;
	out->port = (int)port;
	return 0;
no_bracket:
	vk_store_url_free(out);
	return bad(err, url, "an IPv6 address needs a closing ']'", form);
}

void vk_store_url_free(vk_store_url *u)
{
	free(u->host);
	free(u->password);
	u->host = u->password = NULL;
}
