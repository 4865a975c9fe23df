/* Whole-file reads for start-up configuration (small, local files). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vk/util.h"

#define VK_MAX_CONFIG_FILE (16u << 20) /* a kubeconfig or provider config larger than this is a mistake */

int vk_read_file(const char *path, vk_buf *out, char **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (err)
			*err = vk_asprintf("%s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		if (err)
			*err = vk_asprintf("%s: is a directory", path);
		return -EISDIR;
	}
	char chunk[8192];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			if (err)
				*err = vk_asprintf("%s: %s", path, strerror(e));
			return -e;
		}
		if (n == 0)
			break;
		if (out->len + (size_t)n > VK_MAX_CONFIG_FILE) {
			close(fd);
			if (err)
				*err = vk_asprintf("%s: larger than %u MiB", path, VK_MAX_CONFIG_FILE >> 20);
			return -EFBIG;
		}
		vk_buf_append(out, chunk, (size_t)n);
	}
	close(fd);
	if (!out->data)
		vk_buf_append(out, "", 0);
	return 0;
}
