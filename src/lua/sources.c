/* A short name for "this version of the provider's code": the hash of its
 * sources, shown in logs and the ProviderReloaded Event. */
#include <stdio.h>
#include <stdlib.h>

#include "vk/lua.h"
#include "vk/util.h"

/* FNV-1a, 64 bits, over the sources' contents in order: a short name for
 * "this code" in Events and logs, not a security measure. */
void vk_lua_sources_hash(char *const *files, char out[17])
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; files && files[i]; i++) {
		vk_buf b = {0};
		char *err = NULL;
		if (vk_read_file(files[i], &b, &err) == 0)
			for (size_t j = 0; j < b.len; j++) {
				h ^= (unsigned char)b.data[j];
				h *= 0x100000001b3ull;
			}
		free(err);
		vk_buf_free(&b);
		h ^= 0xff; /* a file boundary */
		h *= 0x100000001b3ull;
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}
