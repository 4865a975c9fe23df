-- A name that cannot be the node taint's value.
return {
  name = "my provider!",
  create_pod = function() end,
  delete_pod = function() end,
  get_pod_status = function() end,
}
