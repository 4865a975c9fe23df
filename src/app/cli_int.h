/* Private to src/app: the one table of vk's flags, which the command line
 * (cli.c), the config file (config_file.c) and the environment share. */
#ifndef VK_CLI_INT_H
#define VK_CLI_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "vk/app.h"

typedef enum {
	VK_FLAG_STRING,   /* a text value */
	VK_FLAG_BOOL,     /* --x or --x=true|false; `x: true` in a file */
	VK_FLAG_UINT,     /* a whole number; `x: 5` in a file */
	VK_FLAG_DURATION, /* Go's duration syntax, as virtual-kubelet's flags: 90s, 1m30s, 500ms */
} vk_flag_type;

typedef struct vk_flag vk_flag;
/* Checks and stores a value given as text.  Returns 0, or -1 with *why
 * (malloc'd) completing "--NAME ..." e.g. "takes a port number ..., not 'x'". */
typedef int (*vk_flag_set)(const vk_flag *f, vk_app_options *o, const char *value, char **why);

struct vk_flag {
	const char *name; /* the long flag and the config file's key */
	vk_flag_type type;
	const char *arg; /* the value's name in --help, NULL for booleans */
	vk_flag_set set;
	size_t off;       /* where a plain string, bool or number goes in vk_app_options */
	const char *env;  /* the environment variable virtual-kubelet read for it, or NULL */
	const char *help; /* lines separated by '\n'; for an ignored flag, why it does nothing */
	bool ignored;     /* virtual-kubelet's, accepted with one warning */
	bool cli_only;    /* not a config file key (--config, --help, --version) */
};

extern const vk_flag vk_app__flags[];
const vk_flag *vk_app__flag(const char *name);
void vk_app__usage(void);
/* Milliseconds from Go's duration syntax ("0", "500ms", "1m30s", "2h"). */
int vk_app__parse_duration(const char *s, unsigned *ms);

/* config_file.c: applies FILE's keys to *o (through each flag's set);
 * every problem is one line "vk: FILE:LINE: ..." on stderr, returns -1. */
int vk_app__config_file(const char *path, vk_app_options *o);
/* Notes an ignored flag (for one warning each once parsing is done). */
void vk_app__ignored(const vk_flag *f);

#endif
