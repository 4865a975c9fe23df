/* A tiny TAP producer for vk's C unit tests. */
#ifndef VK_TAP_H
#define VK_TAP_H
#include <stdbool.h>
#include <string.h>

void tap_ok(bool cond, const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void tap_skip(const char *why);
/* A "# ..." line: what a failing check waited for and what it saw. */
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int tap_done(void); /* prints the plan; returns the exit code */

#define ok(cond, ...) tap_ok((cond), __FILE__, __LINE__, __VA_ARGS__)
static inline bool tap_streq(const char *a, const char *b) { return (a && b) ? strcmp(a, b) == 0 : a == b; }
#define is_str(a, b, ...) tap_ok(tap_streq((a), (b)), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(a, b, ...) tap_ok((long long)(a) == (long long)(b), __FILE__, __LINE__, __VA_ARGS__)
#endif
