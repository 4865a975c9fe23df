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

#endif
