/* util's Kubernetes value formats (vk/k8s.h), base64 encoding and the
 * exact backoff: the C under vk.k8s and the env resolver. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "vk/k8s.h"
#include "vk/util.h"

static void quantities_parse_into_base_units(void)
{
	struct {
		const char *in;
		double want;
	} good[] = {
		{"500m", 0.5},         {"2", 2},     {"0.5", 0.5},  {"128Mi", 134217728.0},
		{"1Gi", 1073741824.0}, {"1G", 1e9},  {"1e3", 1000}, {"100n", 100e-9},
		{"250u", 250e-6},      {"1k", 1000}, {"-1", -1},
	};
	for (size_t i = 0; i < VK_ARRAY_LEN(good); i++) {
		double v = -12345;
		int rc = vk_k8s_quantity(good[i].in, &v);
		ok(rc == 0 && fabs(v - good[i].want) <= fabs(good[i].want) * 1e-12, "\"%s\" is %g (got rc %d, %g)",
		   good[i].in, good[i].want, rc, v);
	}
	const char *bad[] = {"", "abc", "12Q", " 1", "inf", "nan", "0x10", "1Mi ", "Mi", "1.2.3"};
	for (size_t i = 0; i < VK_ARRAY_LEN(bad); i++) {
		double v = 0;
		is_int(vk_k8s_quantity(bad[i], &v), -EINVAL, "\"%s\" is not a quantity", bad[i]);
	}
}

static const char *one_var(const char *name, size_t n, void *ud)
{
	return (n == 2 && memcmp(name, "IP", 2) == 0) ? ud : NULL;
}

static void expansion_with_and_without_escapes(void)
{
	char *s = vk_k8s_expand("$(IP):$(PORT) $$(IP) $$", one_var, "10.0.0.1", true);
	is_str(s, "10.0.0.1:$(PORT) $(IP) $", "with escapes: defined, undefined, $$(X) and $$");
	free(s);
	s = vk_k8s_expand("$(IP):$(PORT) $$(IP) $$", one_var, "10.0.0.1", false);
	is_str(s, "10.0.0.1:$(PORT) $10.0.0.1 $$", "without escapes $$ stays and $(IP) after it expands");
	free(s);
	s = vk_k8s_expand("", one_var, "x", true);
	is_str(s, "", "empty in, empty out (not NULL)");
	free(s);
}

static void base64_encodes_with_padding(void)
{
	struct {
		const char *in, *out;
	} cases[] = {
		{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"foobar", "Zm9vYmFy"},
	};
	for (size_t i = 0; i < VK_ARRAY_LEN(cases); i++) {
		vk_buf b = {0};
		vk_base64_encode(cases[i].in, strlen(cases[i].in), &b);
		ok(b.len == 4 * ((strlen(cases[i].in) + 2) / 3), "encode \"%s\": 4 characters per 3 bytes",
		   cases[i].in);
		is_str(b.data ? b.data : "", cases[i].out, "\"%s\" -> \"%s\"", cases[i].in, cases[i].out);
		vk_buf back = {0};
		ok(vk_base64_decode(b.data ? b.data : "", b.len, &back) == 0 && back.len == strlen(cases[i].in) &&
		           (back.len == 0 || memcmp(back.data, cases[i].in, back.len) == 0),
		   "\"%s\" decodes back", cases[i].out);
		vk_buf_free(&b);
		vk_buf_free(&back);
	}
}

static void exact_backoff_has_no_jitter(void)
{
	vk_backoff b = {.base_ms = 10000, .max_ms = 300000, .exact = true};
	uint64_t want[] = {10000, 20000, 40000, 80000, 160000, 300000, 300000};
	bool same = true;
	for (size_t i = 0; i < VK_ARRAY_LEN(want); i++)
		if (vk_backoff_next(&b) != want[i])
			same = false;
	ok(same, "an exact backoff doubles from base to max without jitter");
	vk_backoff_reset(&b);
	is_int(vk_backoff_next(&b), 10000, "reset starts again from base");
}

int main(void)
{
	quantities_parse_into_base_units();
	expansion_with_and_without_escapes();
	base64_encodes_with_padding();
	exact_backoff_has_no_jitter();
	return tap_done();
}
