/* Reading the machine's figures (vk/host.h): the /proc files and a statfs,
 * on libuv's thread pool so that a slow filesystem never stalls the loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "vk/host.h"
#include "vk/util.h"

/* root + rel ("/" + "proc/stat"), read whole; NULL when it cannot be. */
static char *read_under(const char *root, const char *rel)
{
	char path[4096];
	size_t n = strlen(root);
	snprintf(path, sizeof path, "%s%s%s", root, n && root[n - 1] == '/' ? "" : "/", rel);
	vk_buf b = {0};
	if (vk_read_file(path, &b, NULL) < 0) {
		vk_buf_free(&b);
		return NULL;
	}
	return vk_buf_steal(&b);
}

static void read_fs(const char *path, vk_host_sample *s)
{
	struct statvfs st;
	if ((!path || statvfs(path, &st) < 0) && statvfs("/", &st) < 0)
		return;
	uint64_t bs = st.f_frsize ? st.f_frsize : st.f_bsize;
	s->fs_capacity = (uint64_t)st.f_blocks * bs;
	s->fs_available = (uint64_t)st.f_bavail * bs;
	s->fs_used = ((uint64_t)st.f_blocks - (uint64_t)st.f_bfree) * bs;
	s->fs_inodes = st.f_files;
	s->fs_inodes_free = st.f_ffree;
	s->has_fs = true;
}

void vk_host_read(const char *root, const char *fs_path, vk_host_sample *s)
{
	memset(s, 0, sizeof *s);
	s->default_iface = -1;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	s->mono_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	s->wall_ms = vk_wall_ms();
	char *t;
	if ((t = read_under(root, "proc/stat"))) {
		s->has_cpu = vk_host_parse_proc_stat(t, sysconf(_SC_CLK_TCK), &s->cpu_ns) == 0;
		free(t);
	}
	if ((t = read_under(root, "proc/meminfo"))) {
		vk_host_parse_meminfo(t, s);
		free(t);
	}
	if ((t = read_under(root, "proc/vmstat"))) {
		vk_host_parse_vmstat(t, s);
		free(t);
	}
	if ((t = read_under(root, "proc/net/dev"))) {
		if (vk_host_parse_net_dev(t, s) < 0)
			s->n_ifaces = 0;
		free(t);
	}
	char def[32] = "";
	if ((t = read_under(root, "proc/net/route"))) {
		vk_host_parse_net_route(t, def, sizeof def);
		free(t);
	}
	for (int i = 0; i < s->n_ifaces && s->default_iface < 0; i++)
		if (def[0] ? strcmp(s->ifaces[i].name, def) == 0 : strcmp(s->ifaces[i].name, "lo") != 0)
			s->default_iface = i;
	if ((t = read_under(root, "proc/sys/kernel/pid_max"))) {
		char *end;
		s->max_pid = strtoull(t, &end, 10);
		free(t);
		struct sysinfo si;
		/* The process count is the running kernel's; fixtures have no say. */
		if (end != t && sysinfo(&si) == 0) {
			s->cur_proc = si.procs;
			s->has_rlimit = true;
		}
	}
	read_fs(fs_path, s);
}

/* ---- on the thread pool ---------------------------------------------- */

typedef struct {
	uv_work_t work;
	char *root, *fs_path;
	vk_host_sample s;
	vk_host_sample_cb cb;
	void *ud;
} sample_job;

static void sample_work(uv_work_t *w)
{
	sample_job *j = VK_CONTAINER_OF(w, sample_job, work);
	vk_host_read(j->root, j->fs_path, &j->s);
}

static void sample_done(uv_work_t *w, int status)
{
	sample_job *j = VK_CONTAINER_OF(w, sample_job, work);
	if (status < 0) { /* cancelled before it ran */
		memset(&j->s, 0, sizeof j->s);
		j->s.default_iface = -1;
		j->s.wall_ms = vk_wall_ms();
	}
	j->cb(&j->s, j->ud);
	free(j->root);
	free(j->fs_path);
	free(j);
}

int vk_host_sample_async(uv_loop_t *loop, const char *root, const char *fs_path, vk_host_sample_cb cb, void *ud)
{
	sample_job *j = vk_xcalloc(1, sizeof *j);
	j->root = vk_strdup(root ? root : "/");
	j->fs_path = vk_strdup(fs_path);
	j->cb = cb;
	j->ud = ud;
	int rc = uv_queue_work(loop, &j->work, sample_work, sample_done);
	if (rc < 0) {
		free(j->root);
		free(j->fs_path);
		free(j);
	}
	return rc;
}
