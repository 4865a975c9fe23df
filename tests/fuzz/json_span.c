/* The informer's list pages (src/util/json_span.c): the API server's list
 * answer is cut into the `items` array's elements and the `metadata`
 * object as spans of text, without a tree.  Any input: no crash, every
 * span inside the input.  And where cJSON reads the same input as an
 * object whose `items` is an array, the spans are exactly its elements,
 * in order; that is checked on strict JSON only: cJSON also takes other
 * control bytes for white space, which RFC 8259 and json_span.c do not,
 * and an escape could make the two readings name keys differently. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vk/json.h"

struct walk {
	const char *text;
	size_t len;
	const cJSON *want; /* the items as cJSON read them, or NULL */
	int n;
};

static int element(const char *p, size_t n, void *ud)
{
	struct walk *w = ud;
	if (n == 0 || p < w->text || p + n > w->text + w->len)
		abort(); /* a span outside the input */
	if (w->want) {
		const cJSON *want = cJSON_GetArrayItem(w->want, w->n);
		cJSON *got = cJSON_ParseWithLength(p, n);
		/* Printed, not cJSON_Compare: that one looks keys up by name, and
		 * an object may repeat a key. */
		char *a = want ? cJSON_PrintUnformatted(want) : NULL, *b = got ? cJSON_PrintUnformatted(got) : NULL;
		if (!a || !b || strcmp(a, b) != 0)
			abort(); /* not the element cJSON read there */
		cJSON_free(a);
		cJSON_free(b);
		cJSON_Delete(got);
	}
	w->n++;
	return 0;
}

/* No escape and no control byte but JSON's white space. */
static int plain(const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (d[i] == '\\' || (d[i] < 0x20 && d[i] != ' ' && d[i] != '\t' && d[i] != '\n' && d[i] != '\r'))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	size_t at = 0, n = 0;
	if (vk_json_member_span(text, size, "metadata", &at, &n) == 0 && (n == 0 || at + n > size))
		abort();
	if (vk_json_member_span(text, size, "items", &at, &n) != 0)
		return 0;
	if (n == 0 || at + n > size)
		abort();
	cJSON *doc = plain(data, size) ? cJSON_ParseWithLength(text, size) : NULL;
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(doc, "items");
	struct walk w = {text + at, n, cJSON_IsArray(items) ? items : NULL, 0};
	int rc = vk_json_each_element(text + at, n, element, &w);
	if (rc == 0 && w.want && w.n != cJSON_GetArraySize(w.want))
		abort(); /* elements missed or made up */
	cJSON_Delete(doc);
	return 0;
}
