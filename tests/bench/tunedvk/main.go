// Command tunedvk is the strongest virtual-kubelet peer tests/bench/run.sh
// measures vk against (issue 17): the virtual-kubelet library's node/nodeutil
// (the version required in ../go.mod) with an in-memory provider that behaves
// like upstream's mock provider (a created pod is Running at once; a deleted
// pod gets a terminal status, then the library deletes it), and a client at
// QPS 500 / burst 1000, the settings tensile-kube ships.
//
// It registers as its node identity (system:node:NAME): the node carries only
// labels NodeRestriction allows (upstream's kubernetes.io/role and
// alpha.service-controller.kubernetes.io/exclude-balancer are left out), its
// one address is InternalIP 127.0.0.1, and its taint is
// virtual-kubelet.io/provider=mock:NoSchedule like cmd/virtual-kubelet's.
//
//	tunedvk -kubeconfig KC -nodename NAME -provider-config CAP.json \
//	        -listen 127.0.0.1:PORT -cert CRT -key KEY [-qps 500 -burst 1000 -workers 10]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	vklog "github.com/virtual-kubelet/virtual-kubelet/log"
	vkslog "github.com/virtual-kubelet/virtual-kubelet/log/slog"
	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// memProvider keeps pods in a map: create makes them Running, delete gives
// them a terminal status and tells the pod controller through the notifier.
type memProvider struct {
	mu     sync.Mutex
	pods   map[string]*corev1.Pod
	notify func(*corev1.Pod)
}

func key(ns, name string) string { return ns + "/" + name }

func (p *memProvider) CreatePod(_ context.Context, pod *corev1.Pod) error {
	now := metav1.Now()
	pod = pod.DeepCopy()
	pod.Status.Phase = corev1.PodRunning
	pod.Status.HostIP = "127.0.0.1"
	pod.Status.PodIP = "127.0.0.1"
	pod.Status.StartTime = &now
	pod.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue},
	}
	pod.Status.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	p.mu.Lock()
	p.pods[key(pod.Namespace, pod.Name)] = pod
	p.mu.Unlock()
	// With NotifyPods, the library writes statuses only from the notifier.
	p.notify(pod.DeepCopy())
	return nil
}

func (p *memProvider) UpdatePod(_ context.Context, pod *corev1.Pod) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.pods[key(pod.Namespace, pod.Name)]; ok {
		upd := pod.DeepCopy()
		upd.Status = old.Status
		p.pods[key(pod.Namespace, pod.Name)] = upd
	}
	return nil
}

func (p *memProvider) DeletePod(_ context.Context, pod *corev1.Pod) error {
	k := key(pod.Namespace, pod.Name)
	p.mu.Lock()
	have, ok := p.pods[k]
	delete(p.pods, k)
	p.mu.Unlock()
	if !ok {
		return errdefs.NotFound("pod not found")
	}
	now := metav1.Now()
	done := pod.DeepCopy()
	done.Status = *have.Status.DeepCopy()
	done.Status.Phase = corev1.PodSucceeded
	done.Status.Reason = "ProviderPodDeleted"
	for i := range done.Status.Conditions {
		if done.Status.Conditions[i].Type == corev1.PodReady {
			done.Status.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	for i := range done.Status.ContainerStatuses {
		cs := &done.Status.ContainerStatuses[i]
		started := now
		if cs.State.Running != nil {
			started = cs.State.Running.StartedAt
		}
		cs.Ready = false
		cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			Reason: "ProviderPodDeleted", StartedAt: started, FinishedAt: now,
		}}
	}
	p.notify(done)
	return nil
}

func (p *memProvider) GetPod(_ context.Context, ns, name string) (*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pod, ok := p.pods[key(ns, name)]; ok {
		return pod.DeepCopy(), nil
	}
	return nil, errdefs.NotFound("pod not found")
}

func (p *memProvider) GetPodStatus(ctx context.Context, ns, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

func (p *memProvider) GetPods(context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(p.pods))
	for _, pod := range p.pods {
		out = append(out, pod.DeepCopy())
	}
	return out, nil
}

func (p *memProvider) NotifyPods(_ context.Context, f func(*corev1.Pod)) { p.notify = f }

var errUnsupported = errdefs.InvalidInput("not supported by the benchmark provider")

func (p *memProvider) GetContainerLogs(context.Context, string, string, string, api.ContainerLogOpts) (io.ReadCloser, error) {
	return nil, errUnsupported
}
func (p *memProvider) RunInContainer(context.Context, string, string, string, []string, api.AttachIO) error {
	return errUnsupported
}
func (p *memProvider) AttachToContainer(context.Context, string, string, string, api.AttachIO) error {
	return errUnsupported
}
func (p *memProvider) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	return nil, errUnsupported
}
func (p *memProvider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return nil, errUnsupported
}
func (p *memProvider) PortForward(context.Context, string, string, int32, io.ReadWriteCloser) error {
	return errUnsupported
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the node identity")
	nodeName := flag.String("nodename", "", "node name")
	capFile := flag.String("provider-config", "", `capacity JSON, e.g. {"cpu": "20", "memory": "100Gi", "pods": "1000"}`)
	listen := flag.String("listen", "127.0.0.1:0", "address of the kubelet API (TLS)")
	cert := flag.String("cert", "", "serving certificate")
	keyFile := flag.String("key", "", "serving key")
	qps := flag.Float64("qps", 500, "client QPS")
	burst := flag.Int("burst", 1000, "client burst")
	workers := flag.Int("workers", 10, "pod sync workers")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	flag.Parse()
	if *kubeconfig == "" || *nodeName == "" || *capFile == "" {
		stdlog.Fatal("tunedvk: -kubeconfig, -nodename and -provider-config are required")
	}

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		stdlog.Fatalf("tunedvk: -log-level %q: %v", *logLevel, err)
	}
	vklog.L = vkslog.FromSlog(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})))

	capJSON, err := os.ReadFile(*capFile)
	if err != nil {
		stdlog.Fatalf("tunedvk: %v", err)
	}
	var capStr map[string]string
	if err := json.Unmarshal(capJSON, &capStr); err != nil {
		stdlog.Fatalf("tunedvk: %s: %v", *capFile, err)
	}
	capacity := corev1.ResourceList{}
	for k, v := range capStr {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			stdlog.Fatalf("tunedvk: %s: %s: %v", *capFile, k, err)
		}
		capacity[corev1.ResourceName(k)] = q
	}

	rc, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		stdlog.Fatalf("tunedvk: %v", err)
	}
	rc.QPS, rc.Burst = float32(*qps), *burst
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		stdlog.Fatalf("tunedvk: %v", err)
	}

	ln, err := net.Listen("tcp", *listen) // pick the port now: the node advertises it
	if err != nil {
		stdlog.Fatalf("tunedvk: %v", err)
	}
	_, portStr, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	port, _ := strconv.Atoi(portStr)

	newProvider := func(cfg nodeutil.ProviderConfig) (nodeutil.Provider, node.NodeProvider, error) {
		n := cfg.Node
		n.Labels = map[string]string{
			"type":                   "virtual-kubelet",
			"kubernetes.io/hostname": *nodeName,
			"kubernetes.io/os":       "linux",
		}
		n.Spec.Taints = []corev1.Taint{{Key: "virtual-kubelet.io/provider", Value: "mock", Effect: corev1.TaintEffectNoSchedule}}
		n.Status.Capacity = capacity
		n.Status.Allocatable = capacity
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
		n.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
		n.Status.NodeInfo.OperatingSystem = "linux"
		n.Status.NodeInfo.Architecture = "amd64"
		n.Status.NodeInfo.KubeletVersion = "tunedvk"
		return &memProvider{pods: map[string]*corev1.Pod{}, notify: func(*corev1.Pod) {}}, nil, nil
	}

	opts := []nodeutil.NodeOpt{
		nodeutil.WithClient(client),
		func(c *nodeutil.NodeConfig) error {
			c.NumWorkers = *workers
			c.HTTPListenAddr = fmt.Sprintf("127.0.0.1:%d", port)
			c.InformerResyncPeriod = time.Minute
			return nil
		},
	}
	if *cert != "" {
		mux := http.NewServeMux()
		opts = append(opts, nodeutil.AttachProviderRoutes(mux),
			nodeutil.WithTLSConfig(nodeutil.WithKeyPairFromPath(*cert, *keyFile)),
			func(c *nodeutil.NodeConfig) error { c.Handler = mux; return nil })
	}
	n, err := nodeutil.NewNode(*nodeName, newProvider, opts...)
	if err != nil {
		stdlog.Fatalf("tunedvk: %v", err)
	}

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	go func() {
		if err := n.WaitReady(ctx, 0); err == nil {
			fmt.Fprintf(os.Stderr, "tunedvk: node %s ready (QPS %g, burst %d, %d workers, port %d)\n", *nodeName, *qps, *burst, *workers, port)
		}
	}()
	if err := n.Run(ctx); err != nil && ctx.Err() == nil {
		stdlog.Fatalf("tunedvk: %v", err)
	}
}
