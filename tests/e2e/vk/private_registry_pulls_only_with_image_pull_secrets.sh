#!/usr/bin/env bash
# shellcheck disable=SC2154 # assigned by name: vk_pid by vk_start (common.bash)
# Image pulls with credentials, for real: Debian's docker-registry on
# 127.0.0.1 with htpasswd (bcrypt) auth, loaded with the locally built
# busybox image by skopeo, reached by the test's containerd as a plain-http
# registry (certs.d/HOST:PORT/hosts.toml).  A pod without imagePullSecrets
# gets ErrImagePull, then ImagePullBackOff, with an Event that says the
# registry refused (401 Unauthorized); a pod with the right
# kubernetes.io/dockerconfigjson secret pulls and runs.  The registry is
# stopped by its PID.
set -euo pipefail
source "$(dirname "$0")/common.bash"
tap_plan 9
for tool in docker-registry skopeo htpasswd; do
	command -v "$tool" >/dev/null || tap_bail "$tool is needed (scripts/install-deps.sh)"
done
vk_setup node
containerd_up "$tmp/cri" >&2 || tap_bail "tests/cluster/containerd-up.sh failed"

# ---- the registry ------------------------------------------------------------
port=""
for _ in $(seq 50); do
	p=$((20000 + RANDOM % 20000))
	ss -Htln "sport = :$p" | grep -q . || { port=$p; break; }
done
[[ -n $port ]] || tap_bail "no free port for the registry"
reg=127.0.0.1:$port
user=alice pass=$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
htpasswd -Bbc "$tmp/htpasswd" "$user" "$pass" 2>/dev/null || tap_bail "htpasswd failed"
mkdir -p "$tmp/registry"
cat >"$tmp/registry.yml" <<YAML
version: 0.1
log: {level: info}
storage:
  filesystem: {rootdirectory: $tmp/registry}
http:
  addr: $reg
auth:
  htpasswd: {realm: vk-test, path: $tmp/htpasswd}
YAML
docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
reg_pid=$!
on_exit "kill $reg_pid 2>/dev/null; wait $reg_pid 2>/dev/null"
tap_context "echo '--- registry log:'; tail -n 5 '$tmp/registry.log'"
answers() { [[ $(curl -s -o /dev/null -w '%{http_code}' "http://$reg/v2/") == 401 ]]; }
wait_until 30 answers || tap_bail "the registry does not answer on $reg"

# skopeo pushes the OCI layout tarball images.sh built (tag 1.35).
image=$reg/vk/busybox:1.35
TMPDIR=$tmp skopeo copy --quiet --dest-tls-verify=false --dest-creds "$user:$pass" \
	"oci-archive:$IMAGES_DIR/busybox.tar:1.35" "docker://$image" >"$tmp/skopeo.log" 2>&1 ||
	tap_bail "skopeo could not push: $(tail -3 "$tmp/skopeo.log")"
tap_is "$(curl -s -o /dev/null -w '%{http_code}' "http://$reg/v2/vk/busybox/manifests/1.35")" 401 \
	"the registry refuses an anonymous read of the image"

# containerd reaches it over plain http.
mkdir -p "$REGISTRY_HOSTS_DIR/$reg"
cat >"$REGISTRY_HOSTS_DIR/$reg/hosts.toml" <<TOML
server = "http://$reg"

[host."http://$reg"]
  capabilities = ["pull", "resolve"]
TOML

mynode_config
vk_start vk "$node" "$VK_ROOT/providers/mynode.lua" --provider-config "$tmp/mynode.yaml" --status-interval 1000
wait_until 30 node_is "$node" True || tap_bail "node not Ready"

pod() { # NAME [SECRET]
	local secrets=""
	[[ -z ${2:-} ]] || secrets="imagePullSecrets: [{name: $2}]"
	cat <<YAML | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $ns}
spec:
  nodeName: $node
  terminationGracePeriodSeconds: 1
  tolerations: [{key: virtual-kubelet.io/provider, operator: Exists}]
  $secrets
  containers:
  - {name: c, image: $image, imagePullPolicy: Always, command: [sleep, "3600"]}
YAML
}

# Without the secret first (afterwards the image would be on the node).
pod anonymous
waiting() { k -n "$ns" get pod anonymous -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}'; }
backoff() { [[ $(waiting) == ImagePullBackOff ]]; }
if wait_until 60 backoff; then tap_pass "without imagePullSecrets: ImagePullBackOff"
else tap_fail "without imagePullSecrets: ImagePullBackOff" "$(k -n "$ns" get pod anonymous -o jsonpath='{.status}')"; fi
events() { k -n "$ns" get events --field-selector "involvedObject.name=$1" -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}'; }
tap_like "$(events anonymous | grep -F 'Error: ErrImagePull' || true)" 'ErrImagePull' "an Event says ErrImagePull"
tap_like "$(events anonymous | grep -F "Failed to pull image \"$image\"" || true)" '401 Unauthorized' \
	"an Event says the registry refused: 401 Unauthorized"
tap_like "$(k -n "$ns" get pod anonymous -o jsonpath='{.status.containerStatuses[0].state.waiting.message}')" \
	'401 Unauthorized' "so does the container's waiting message"

# With the right secret.
k -n "$ns" create secret docker-registry regcred --docker-server="$reg" --docker-username="$user" \
	--docker-password="$pass" >/dev/null
pod authorized regcred
if wait_until 90 pod_is authorized Running; then tap_pass "with the right imagePullSecrets the pod pulls and runs"
else tap_fail "with the right imagePullSecrets the pod pulls and runs" "$(k -n "$ns" get pod authorized -o jsonpath='{.status}')" "$(events authorized)"; fi
uid=$(k -n "$ns" get pod authorized -o jsonpath='{.metadata.uid}')
cid=$(cri ps -q --label "io.kubernetes.pod.uid=$uid" --state Running | head -1)
tap_like "$(cri inspect -o go-template --template '{{.status.image.image}}' "$cid" 2>&1)" "^($image|sha256:[0-9a-f]+)\$" \
	"its container runs in containerd, from the registry's image"
tap_like "$(events authorized | grep -E '^(Pulling|Pulled):' | sort | tr '\n' '|')" \
	"^Pulled: Successfully pulled image \"$image\" in [0-9.]+s\|Pulling: Pulling image \"$image\"\|\$" \
	"Pulling and Pulled Events, as kubelet records them"
tap_like "$(grep -c "$user" "$tmp/registry.log" || true)" '^[1-9][0-9]*$' "the registry logged requests authenticated as $user"
tap_done
