#include <stdarg.h>
#include <stdio.h>

#include "tap.h"

static int n, failed;

void tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	n++;
	printf("%sok %d - ", cond ? "" : "not ", n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void tap_skip(const char *why)
{
	n++;
	printf("ok %d # SKIP %s\n", n, why);
}

int tap_done(void)
{
	printf("1..%d\n", n);
	return failed ? 1 : 0;
}
