/* Starts a test HTTP server written in Python on 127.0.0.1.  The script must
 * print its port on the first line of stdout.  Stop it with pyserver_stop. */
#ifndef VK_TEST_PYSERVER_H
#define VK_TEST_PYSERVER_H
#include <sys/types.h>

int pyserver_start(const char *script, pid_t *pid); /* the port, or -1 */
void pyserver_stop(pid_t pid);
#endif
