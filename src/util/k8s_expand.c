/* kubelet's $(VAR) expansion of env values, command and args. */
#include <string.h>

#include "vk/k8s.h"
#include "vk/util.h"

char *vk_k8s_expand(const char *s, vk_k8s_lookup_fn lookup, void *ud, bool escapes)
{
	vk_buf out = {0};
	for (const char *p = s; *p;) {
		if (escapes && p[0] == '$' && p[1] == '$') {
			vk_buf_append(&out, "$", 1);
			p += 2;
			continue;
		}
		if (p[0] == '$' && p[1] == '(') {
			const char *end = strchr(p + 2, ')');
			if (end) {
				const char *v = lookup(p + 2, (size_t)(end - p - 2), ud);
				if (v)
					vk_buf_append(&out, v, strlen(v));
				else
					vk_buf_append(&out, p, (size_t)(end - p + 1));
				p = end + 1;
				continue;
			}
		}
		vk_buf_append(&out, p, 1);
		p++;
	}
	return vk_buf_steal(&out);
}
