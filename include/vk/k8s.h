/* vk/k8s.h - Kubernetes' value formats as pure functions: resource
 * quantities and kubelet's $(VAR) expansion.  Part of util (src/util/k8s_*.c):
 * no I/O, no state, usable from every subsystem and from Lua (vk.k8s). */
#ifndef VK_K8S_H
#define VK_K8S_H

#include <stdbool.h>
#include <stddef.h>

/* Parses a quantity ("500m", "2", "0.5", "128Mi", "1G", "1e3") into base
 * units (cores, bytes).  Returns 0, or -EINVAL when s is not a quantity. */
int vk_k8s_quantity(const char *s, double *out);

/* Looks up the variable name[0..n) (not NUL-terminated): its value, or NULL
 * when it is not defined.  The value must stay valid until the next call. */
typedef const char *(*vk_k8s_lookup_fn)(const char *name, size_t n, void *ud);

/* kubelet's $(VAR) expansion: each $(NAME) with a defined NAME becomes its
 * value, an undefined one stays as written; with `escapes`, $$ becomes a
 * literal $ (so $$(X) stays "$(X)").  Returns a malloc'd string. */
char *vk_k8s_expand(const char *s, vk_k8s_lookup_fn lookup, void *ud, bool escapes);

#endif
