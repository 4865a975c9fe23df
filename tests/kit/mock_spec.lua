-- The kit's own test: mock rules for vk.http, vk.cri and vk.kube, what they
-- record, and pass-through to the real bindings.
local http = require "vk.http"
local cri = require "vk.cri"
local kube = require "vk.kube"

describe("mock", function()
  it("answers vk.http by method, url pattern and body, in order of the rules", function()
    mock.http {method = "GET", url = "http://api.test/a", respond = {status = 200, json = {n = 1}}, times = 1}
    mock.http {url_match = "^http://api%.test/", body_match = "^hello", respond = function(req)
      return {status = 201, headers = {["X-Echo"] = req.body}}
    end}
    mock.http {url_match = "^http://api%.test/", error = "connection reset"}
    local r = http.request {url = "http://api.test/a"}
    expect(r.status):to_be(200)
    expect(r.body):to_be('{"n":1}')
    r = http.request {method = "POST", url = "http://api.test/b", body = "hello there"}
    expect(r.status):to_be(201)
    expect(r.headers["x-echo"]):to_be("hello there")
    local none, err = http.request {url = "http://api.test/a"} -- the first rule was used up
    expect(none):to_be_nil()
    expect(err):to_be("vk.http.request: connection reset")
    expect(#mock.calls("http")):to_be(3)
    expect(mock.calls("http")[2]):to_equal({method = "POST", url = "http://api.test/b", body = "hello there"})
  end)

  it("answers vk.cri by method, and raises its errors with the gRPC code at the caller's line", function()
    mock.cri {method = "Version", respond = {runtime_name = "fake", version = "0.1"}}
    mock.cri {method = "container_status", error = "NOT_FOUND: no such container"}
    expect(cri.version {}.runtime_name):to_be("fake")
    local line = debug.getinfo(1, "l").currentline + 1
    local ok, err = pcall(cri.container_status, {container_id = "x"})
    expect(ok):to_be(false)
    expect(err):to_contain("mock_spec.lua:" .. line .. ": vk.cri.container_status: NOT_FOUND: no such container")
    expect(cri.code(err)):to_be("NOT_FOUND")
    local c = cri.connect("unix:///run/other.sock")
    expect(c:version {}.version):to_be("0.1")
    expect(mock.calls("cri")[3].endpoint):to_be("unix:///run/other.sock")
  end)

  it("answers vk.kube by path; no object is not found", function()
    mock.kube {path = "/api/v1/namespaces/ns/configmaps/cfg", object = {data = {k = "v"}}}
    mock.kube {fn = "get_secret", object = nil}
    expect(kube.get_configmap("ns", "cfg").data.k):to_be("v")
    local s, err = kube.get_secret("ns", "missing")
    expect(s):to_be_nil()
    expect(err):to_be("not found")
    expect(mock.calls("kube")[2].path):to_be("/api/v1/namespaces/ns/secrets/missing")
  end)

  it("passes unmatched calls through to the real binding", function()
    mock.passthrough("http")
    -- the real vk.http: nothing listens on port 1 of 127.0.0.1
    local r, err = http.request {url = "http://127.0.0.1:1/", timeout_ms = 5000}
    expect(r):to_be_nil()
    expect(err):to_match("^vk%.http%.request: ")
    expect(#mock.calls("http")):to_be(1)
  end)
end)

describe("mock after a test", function()
  it("forgets the rules made inside the test before", function()
    mock.http {respond = {status = 404}} -- behind the earlier test's rules, were they still there
    local r = http.request {url = "http://api.test/a"}
    expect(r.status):to_be(404)
  end)
end)
