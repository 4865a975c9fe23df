/* Kubernetes resource quantities, as the env resolver (resourceFieldRef)
 * and providers (vk.k8s.quantity) read them. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vk/k8s.h"
#include "vk/util.h"

int vk_k8s_quantity(const char *s, double *out)
{
	/* strtod also reads " 1", "inf", "nan" and "0x10": none is a quantity. */
	if (!s || !(*s == '+' || *s == '-' || *s == '.' || (*s >= '0' && *s <= '9')) || strpbrk(s, "xX"))
		return -EINVAL;
	char *end;
	double v = strtod(s, &end);
	if (end == s || !isfinite(v))
		return -EINVAL;
	static const struct {
		const char *suf;
		double mul;
	} sfx[] = {
		{"Ki", 1024.0},
		{"Mi", 1048576.0},
		{"Gi", 1073741824.0},
		{"Ti", 1099511627776.0},
		{"Pi", 1125899906842624.0},
		{"Ei", 1152921504606846976.0},
		{"n", 1e-9},
		{"u", 1e-6},
		{"m", 1e-3},
		{"k", 1e3},
		{"M", 1e6},
		{"G", 1e9},
		{"T", 1e12},
		{"P", 1e15},
		{"E", 1e18},
		{"", 1},
	};
	for (size_t i = 0; i < VK_ARRAY_LEN(sfx); i++) {
		if (strcmp(end, sfx[i].suf) == 0) {
			*out = v * sfx[i].mul;
			return 0;
		}
	}
	return -EINVAL;
}
