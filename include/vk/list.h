/* vk/list.h - an intrusive, circular, doubly linked list (header only).
 *
 * A list is a vk_list head; an element embeds a vk_list link and is found
 * back from it with VK_LIST_ENTRY.  The list owns nothing: whoever links an
 * element frees it, after unlinking it.  A head must be vk_list_init'ed; a
 * link need not be: a zeroed link counts as "not linked", and so does a
 * link after vk_list_remove, which may therefore be called more than once.
 *
 *   vk_list tasks;                  struct task { vk_list link; ... };
 *   vk_list_init(&tasks);
 *   vk_list_insert_tail(&tasks, &t->link);
 *   vk_list *n, *tmp;
 *   VK_LIST_FOREACH_SAFE(n, tmp, &tasks) {
 *       struct task *t = VK_LIST_ENTRY(n, struct task, link);
 *       ... vk_list_remove(n) is allowed here ...
 *   }
 */
#ifndef VK_LIST_H
#define VK_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct vk_list {
	struct vk_list *prev, *next;
} vk_list;

#define VK_LIST_ENTRY(link, type, member) ((type *)((char *)(link)-offsetof(type, member)))

/* Visits every link; `tmp` keeps the next one, so `pos` may be removed. */
#define VK_LIST_FOREACH_SAFE(pos, tmp, head) \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); (pos) = (tmp), (tmp) = (pos)->next)

static inline void vk_list_init(vk_list *head) { head->prev = head->next = head; }

static inline bool vk_list_empty(const vk_list *head) { return head->next == head; }

static inline bool vk_list_linked(const vk_list *link) { return link->next != NULL; }

/* The first or last element's link, or NULL when the list is empty. */
static inline vk_list *vk_list_first(const vk_list *head) { return head->next == head ? NULL : head->next; }

static inline vk_list *vk_list_last(const vk_list *head) { return head->prev == head ? NULL : head->prev; }

static inline void vk_list_insert_head(vk_list *head, vk_list *link)
{
	link->prev = head;
	link->next = head->next;
	head->next->prev = link;
	head->next = link;
}

static inline void vk_list_insert_tail(vk_list *head, vk_list *link)
{
	link->next = head;
	link->prev = head->prev;
	head->prev->next = link;
	head->prev = link;
}

/* Unlinks `link` if it is linked; then it reads as not linked. */
static inline void vk_list_remove(vk_list *link)
{
	if (!link->next)
		return;
	link->prev->next = link->next;
	link->next->prev = link->prev;
	link->prev = link->next = NULL;
}

#endif
