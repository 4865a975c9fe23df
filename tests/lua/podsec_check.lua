-- mynode's pod-level kubelet rules as pure functions, without a runtime:
-- sysctl names and admission (mynode/sysctls.lua), the hostname and
-- /etc/hosts (mynode/hosts.lua), runAsNonRoot and the CRI security context
-- (mynode/security.lua).  Expected values are kubelet 1.35's.
local P = {}
local T = require "checks"
local check, expect, eq = T.check, T.expect, T.eq

-- providers/ is two folders up from this file.
local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = here .. "/../../providers/?.lua;" .. package.path

local function pod(spec, md)
  md = md or {}
  return {metadata = {name = md.name or "web-0", namespace = md.namespace or "ns1", uid = "u-1"}, spec = spec}
end

function P.init()
  local C = require "mynode.common"
  local sysctls = require "mynode.sysctls"
  local hosts = require "mynode.hosts"
  local security = require "mynode.security"

  check("sysctl names with slashes are normalized as kubelet does", function()
    eq(sysctls.normalize("net/ipv4/ip_local_port_range"), "net.ipv4.ip_local_port_range", "slashes")
    eq(sysctls.normalize("net/ipv4/conf/eno2.100/rp_filter"), "net.ipv4.conf.eno2/100.rp_filter", "swap")
    eq(sysctls.normalize("net.ipv4.conf.eno2/100.rp_filter"), "net.ipv4.conf.eno2/100.rp_filter", "dots first")
    eq(sysctls.normalize("kernel"), "kernel", "no separator")
  end)

  check("the safe set is allowed, others are SysctlForbidden", function()
    local list = sysctls.allowlist("6.1.0", nil)
    local ok = pod{securityContext = {sysctls = {{name = "net/ipv4/ip_unprivileged_port_start", value = "0"},
                                                 {name = "kernel.shm_rmid_forced", value = "1"},
                                                 {name = "net.ipv4.tcp_rmem", value = "4096 87380 6291456"}}}}
    eq(sysctls.admit(list, ok), nil, "safe sysctls")
    local bad = sysctls.admit(list, pod{securityContext = {sysctls = {{name = "kernel.msgmax", value = "1"}}}})
    expect(bad, "kernel.msgmax refused")
    eq(bad.reason, "SysctlForbidden", "reason")
    eq(bad.message, 'forbidden sysctl: "kernel.msgmax" not allowlisted', "message")
  end)

  check("sysctls newer than the kernel are left out of the safe set", function()
    local list = sysctls.allowlist("4.9.0", nil)
    local p = pod{securityContext = {sysctls = {{name = "net.ipv4.tcp_wmem", value = "1 2 3"}}}}
    expect(sysctls.admit(list, p), "tcp_wmem needs 4.15")
    eq(sysctls.admit(list, pod{securityContext = {sysctls = {{name = "net.ipv4.tcp_fin_timeout", value = "9"}}}}),
       nil, "tcp_fin_timeout needs 4.6")
  end)

  check("allowed_unsafe_sysctls adds names and prefixes, namespaced ones only", function()
    local list = sysctls.allowlist(nil, {"kernel.msg*", "net.core.somaxconn"})
    local p = pod{securityContext = {sysctls = {{name = "kernel.msgmax", value = "1"},
                                                {name = "net/core/somaxconn", value = "1024"}}}}
    eq(sysctls.admit(list, p), nil, "allowed")
    local ok, err = pcall(sysctls.allowlist, nil, {"vm.swappiness"})
    expect(not ok and err:find('"vm.swappiness" are not known to be namespaced', 1, true), tostring(err))
    ok, err = pcall(sysctls.allowlist, nil, {"Bad Name"})
    expect(not ok and err:find("allowed_unsafe_sysctls[1]", 1, true), tostring(err))
  end)

  check("net sysctls are refused on the host network, IPC ones with hostIPC", function()
    local list = sysctls.allowlist(nil, nil)
    local p = pod{hostNetwork = true, securityContext = {sysctls = {{name = "net.ipv4.tcp_syncookies", value = "1"}}}}
    eq(sysctls.admit(list, p).message, 'forbidden sysctl: "net.ipv4.tcp_syncookies" not allowed with host Net enabled',
       "hostNetwork")
    p = pod{hostIPC = true, securityContext = {sysctls = {{name = "kernel.shm_rmid_forced", value = "1"}}}}
    eq(sysctls.admit(list, p).message, 'forbidden sysctl: "kernel.shm_rmid_forced" not allowed with host IPC enabled',
       "hostIPC")
  end)

  check("the sandbox gets normalized sysctl names", function()
    local p = pod{securityContext = {sysctls = {{name = "net/ipv4/ping_group_range", value = "0 0"}}}}
    local m = sysctls.for_sandbox(p)
    eq(m["net.ipv4.ping_group_range"], "0 0", "normalized key")
  end)

  check("hostname: spec.hostname, else the pod name cut to 63 without trailing - or .", function()
    eq((hosts.hostname(pod({hostname = "box"}))), "box", "spec.hostname")
    local long = string.rep("a", 62) .. "-b"
    eq((hosts.hostname(pod({}, {name = long}))), string.rep("a", 62), "63 chars, trailing - cut")
    local _, dom = hosts.hostname(pod({subdomain = "sub"}))
    eq(dom, "sub.ns1.svc." .. C.cfg.cluster_domain, "domain")
  end)

  check("setHostnameAsFQDN makes the sandbox hostname the FQDN; none on the host network", function()
    eq(hosts.kernel_hostname(pod({hostname = "h", subdomain = "s"})), "h", "without setHostnameAsFQDN")
    eq(hosts.kernel_hostname(pod({hostname = "h", subdomain = "s", setHostnameAsFQDN = true})),
       "h.s.ns1.svc.cluster.local", "FQDN")
    eq(hosts.kernel_hostname(pod({hostNetwork = true})), nil, "host network")
    local ok, err = pcall(hosts.kernel_hostname, pod({hostname = string.rep("h", 41), subdomain = "s",
                                                       setHostnameAsFQDN = true}))
    expect(not ok and err:find("is too long", 1, true), tostring(err))
  end)

  check("/etc/hosts is kubelet's managed file, with FQDN and HostAliases", function()
    local p = pod({hostname = "h", subdomain = "s",
                   hostAliases = {{ip = "10.1.2.3", hostnames = {"foo.local", "bar.local"}}}})
    eq(hosts.managed_content(p, {"10.244.0.5"}),
       "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" ..
       "fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n" ..
       "10.244.0.5\th.s.ns1.svc.cluster.local\th\n" ..
       "\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n",
       "content")
    local plain = hosts.managed_content(pod({}), {"10.244.0.6"})
    expect(plain:find("\n10.244.0.6\tweb-0\n", 1, true) and not plain:find("HostAliases", 1, true), plain)
    eq(hosts.host_network_content(pod({hostAliases = {{ip = "1.2.3.4", hostnames = {"x"}}}}), "127.0.0.1 node\n"),
       "# Kubernetes-managed hosts file (host network).\n127.0.0.1 node\n" ..
       "\n# Entries added by HostAliases.\n1.2.3.4\tx\n",
       "host network")
  end)

  check("the /etc/hosts mount goes to every container but one mounting /etc/hosts", function()
    local rec = {hosts_file = "/p/etc-hosts"}
    local m = {}
    hosts.add_mount(rec, {name = "a"}, m)
    eq(#m, 1, "mounted")
    eq(m[1].container_path .. " " .. m[1].host_path .. " " .. tostring(m[1].readonly), "/etc/hosts /p/etc-hosts false",
       "mount")
    m = {}
    hosts.add_mount(rec, {name = "b", volumeMounts = {{name = "v", mountPath = "/etc/hosts"}}}, m)
    eq(#m, 0, "own mount wins")
    hosts.add_mount({}, {name = "c"}, m)
    eq(#m, 0, "no file (no pod IP yet): no mount")
  end)

  check("runAsNonRoot: kubelet's checks and messages", function()
    local p = pod({securityContext = {runAsNonRoot = true}, containers = {{name = "c"}}})
    p.metadata.uid = "u-1"
    local c = p.spec.containers[1]
    eq(security.verify_run_as_non_root(p, c, 0, ""),
       'container has runAsNonRoot and image will run as root (pod: "web-0_ns1(u-1)", container: c)', "root image")
    eq(security.verify_run_as_non_root(p, c, nil, "nobody"),
       'container has runAsNonRoot and image has non-numeric user (nobody), cannot verify user is non-root ' ..
       '(pod: "web-0_ns1(u-1)", container: c)', "user name")
    eq(security.verify_run_as_non_root(p, c, 1000, ""), nil, "uid 1000")
    c.securityContext = {runAsUser = 0}
    eq(security.verify_run_as_non_root(p, c, 1000, ""),
       'container\'s runAsUser breaks non-root policy (pod: "web-0_ns1(u-1)", container: c)', "runAsUser 0")
    c.securityContext = {runAsUser = 1000}
    eq(security.verify_run_as_non_root(p, c, 0, ""), nil, "runAsUser 1000 over a root image")
    c.securityContext = {runAsNonRoot = false}
    eq(security.verify_run_as_non_root(p, c, 0, ""), nil, "the container's false wins")
  end)

  check("the CRI security context: user, group, fsGroup and supplementalGroups, no_new_privs", function()
    local p = pod({securityContext = {runAsUser = 1000, runAsGroup = 3000, fsGroup = 2000,
                                      supplementalGroups = {4000, 5000}}})
    local c = {name = "c", securityContext = {runAsGroup = 3001, allowPrivilegeEscalation = false}}
    local out = security.container(p, c, {})
    eq(out.run_as_user.value, 1000, "pod's user")
    eq(out.run_as_group.value, 3001, "container's group wins")
    eq(table.concat(out.supplemental_groups, ","), "2000,4000,5000", "fsGroup then supplementalGroups")
    eq(out.no_new_privs, true, "no_new_privs")
    local sb = security.sandbox(p, {})
    eq(sb.run_as_user.value .. "/" .. sb.run_as_group.value .. "/" .. table.concat(sb.supplemental_groups, ","),
       "1000/3000/2000,4000,5000", "sandbox")
  end)
end

P.get_pods = T.results
function P.create_pod() end
function P.delete_pod() end
function P.get_pod_status() end
return P
