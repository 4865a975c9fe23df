/* vk/yaml.h - YAML -> cJSON as Kubernetes reads it (sigs.k8s.io/yaml).
 * General: used by kubeconfig, the provider config, and vk.yaml.  Depends
 * on util only. */
#ifndef VK_YAML_H
#define VK_YAML_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Mappings become objects, sequences arrays, plain scalars resolve with the
 * YAML 1.2 core schema (null, true/false, ints, floats, else strings),
 * quoted scalars are strings; anchors, aliases and `<<` merge keys are
 * expanded.  On a syntax error returns NULL with *err = "line N: problem"
 * (malloc'd).  vk_yaml_parse returns the first document (JSON null for an
 * empty text); vk_yaml_parse_all an array of every document. */
cJSON *vk_yaml_parse(const char *text, size_t len, char **err);
cJSON *vk_yaml_parse_all(const char *text, size_t len, char **err);
/* Where each key of the first document's top-level mapping is: an object
 * mapping the key to its 1-based line (for "file:line" messages).  NULL
 * when the text does not parse or is not a mapping. */
cJSON *vk_yaml_key_lines(const char *text, size_t len);
/* Walks the first document and calls fn for every mapping key (`key` set)
 * and every sequence item (`key` NULL): its path (keys joined with '.',
 * items as [N] from 1: "specs[3].memory[2]"), its depth (1 under the root)
 * and 1-based line.  0, or -EINVAL with *err "line N: problem" (caller
 * frees) for text that is not YAML or nests deeper than 64. */
typedef void (*vk_yaml_line_cb)(const char *path, const char *key, int depth, size_t line, void *ud);
int vk_yaml_walk_lines(const char *text, size_t len, vk_yaml_line_cb fn, void *ud, char **err);

#endif
