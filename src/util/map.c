/* vk_map: chained hash map keyed by strings (FNV-1a), grows at load 1. */
#include <stdlib.h>
#include <string.h>

#include "vk/util.h"

typedef struct entry {
	struct entry *next;
	uint32_t hash;
	void *val;
	char key[];
} entry;

struct vk_map {
	entry **b;
	size_t nb, len;
};

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

vk_map *vk_map_new(void)
{
	vk_map *m = vk_xcalloc(1, sizeof *m);
	m->nb = 16;
	m->b = vk_xcalloc(m->nb, sizeof *m->b);
	return m;
}

void vk_map_free(vk_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nb; i++) {
		for (entry *e = m->b[i], *n; e; e = n) {
			n = e->next;
			free(e);
		}
	}
	free(m->b);
	free(m);
}

static entry **find(const vk_map *m, const char *key, uint32_t h)
{
	entry **pp = &m->b[h & (m->nb - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0)
			break;
	return pp;
}

void *vk_map_get(const vk_map *m, const char *key)
{
	entry **pp = find(m, key, hash(key));
	return *pp ? (*pp)->val : NULL;
}

static void grow(vk_map *m)
{
	size_t nb = m->nb * 2;
	entry **b = vk_xcalloc(nb, sizeof *b);
	for (size_t i = 0; i < m->nb; i++) {
		for (entry *e = m->b[i], *n; e; e = n) {
			n = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
}

void *vk_map_set(vk_map *m, const char *key, void *val)
{
	uint32_t h = hash(key);
	entry **pp = find(m, key, h);
	if (*pp) {
		void *old = (*pp)->val;
		(*pp)->val = val;
		return old;
	}
	size_t kl = strlen(key) + 1;
	entry *e = vk_xmalloc(sizeof *e + kl);
	memcpy(e->key, key, kl);
	e->hash = h;
	e->val = val;
	e->next = NULL;
	*pp = e;
	if (++m->len > m->nb)
		grow(m);
	return NULL;
}

void *vk_map_del(vk_map *m, const char *key)
{
	entry **pp = find(m, key, hash(key));
	if (!*pp)
		return NULL;
	entry *e = *pp;
	void *val = e->val;
	*pp = e->next;
	free(e);
	m->len--;
	return val;
}

size_t vk_map_len(const vk_map *m) { return m->len; }

/* The iterator remembers the bucket and the entry it will return next, so
 * the caller may delete the entry it just got. */
bool vk_map_next(const vk_map *m, vk_map_iter *it, const char **key, void **val)
{
	entry *e = it->entry;
	if (!e) {
		while (it->bucket < m->nb && !m->b[it->bucket])
			it->bucket++;
		if (it->bucket >= m->nb)
			return false;
		e = m->b[it->bucket];
	}
	it->entry = e->next;
	if (!e->next)
		it->bucket++;
	if (key)
		*key = e->key;
	if (val)
		*val = e->val;
	return true;
}
