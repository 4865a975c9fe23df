-- cloud/tags.lua: the identity tags every instance carries, so that vk finds
-- its instances again after a restart (DescribeContainerGroups by tags)
-- and never makes a second one for the same pod.  Pure.
local M = {}

M.KEYS = {
  cluster = "vk.io/cluster",
  node = "vk.io/node",
  namespace = "vk.io/namespace",
  name = "vk.io/pod-name",
  uid = "vk.io/pod-uid",
  created = "vk.io/pod-created",
}

-- The tags of the instance for `pod` run by `node` of `cluster`, as the
-- API takes them: a list of {Key, Value}.
function M.for_pod(pod, cluster, node)
  local md = pod.metadata
  return {
    {Key = M.KEYS.cluster, Value = cluster},
    {Key = M.KEYS.node, Value = node},
    {Key = M.KEYS.namespace, Value = md.namespace},
    {Key = M.KEYS.name, Value = md.name},
    {Key = M.KEYS.uid, Value = md.uid or ""},
    {Key = M.KEYS.created, Value = md.creationTimestamp or ""},
  }
end

-- The filter that finds every instance of this node.
function M.selector(cluster, node)
  return {{Key = M.KEYS.cluster, Value = cluster}, {Key = M.KEYS.node, Value = node}}
end

-- An instance's tags (a list of {Key, Value}) as {cluster=, node=,
-- namespace=, name=, uid=, created=}; nil when one of namespace, name or uid
-- is missing (not an instance vk made).
function M.parse(list)
  local by_key = {}
  for _, t in ipairs(list or {}) do by_key[t.Key] = t.Value end
  local out = {}
  for field, key in pairs(M.KEYS) do out[field] = by_key[key] end
  if not out.namespace or not out.name or not out.uid or out.uid == "" then return nil end
  return out
end

-- The instance's name: all namespaces share one cloud project, so the name
-- is "namespace-name" (as Huawei CCI does), cut to the API's 128 characters.
function M.instance_name(pod)
  return (pod.metadata.namespace .. "-" .. pod.metadata.name):sub(1, 128)
end

return M
