#include "pyserver.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int pyserver_start(const char *script, pid_t *pid)
{
	int fds[2];
	*pid = -1;
	if (pipe(fds) < 0)
		return -1;
	pid_t p = fork();
	if (p < 0)
		return -1;
	if (p == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execlp("python3", "python3", "-c", script, (char *)NULL);
		_exit(127);
	}
	*pid = p;
	close(fds[1]);
	char line[32] = {0};
	size_t n = 0;
	while (n < sizeof line - 1) {
		ssize_t r = read(fds[0], line + n, 1);
		if (r <= 0 || line[n] == '\n')
			break;
		n++;
	}
	close(fds[0]);
	int port = atoi(line);
	return port > 0 ? port : -1;
}

void pyserver_stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}
