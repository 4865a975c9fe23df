// loadgen is the one load client of tests/bench/run.sh, used unchanged for
// every agent so that only the agent differs between runs.
//
// One run: optionally measure the agent's idle memory and CPU (-pid), create
// N bare pods bound to -node (spec.nodeName set, so the scheduler is not in
// the measurement) that tolerate the agent's taint, watch until all are
// Running, hold them a few seconds (steady memory), delete them all
// (graceful, as a user would: the agent must do the final delete) and watch
// until all are gone.  The figures go to stdout as one JSON object.
//
// With -simulate-agent the same process also plays a perfect agent through a
// client of its own: for each pod it sees, one status write to Running, and on
// deletionTimestamp one delete with grace 0 (with -terminal-status, first the
// terminal status kubelet writes before that delete).  Those are the API
// writes an agent must do, so the run measures the API server's ceiling.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
)

type options struct {
	kubeconfig, agentKubeconfig string
	namespace, node, runID      string
	taintKey, taintValue        string
	pods, workers, agentWorkers int
	qps                         float64
	burst                       int
	pid                         int
	clkTck                      float64
	settle, idle, steady        time.Duration
	timeout                     time.Duration
	simulate, createNode        bool
	terminalStatus              bool
	atN                         string
	grace                       int64
	noToken                     bool
}

// tracker follows the pods of the run through a watch (an informer) and
// records when each one was first seen Running and when it was seen gone.
type tracker struct {
	mu          sync.Mutex
	created     map[string]time.Time // create request returned
	running     map[string]time.Time // watch first saw phase Running
	statusWrite map[string]float64   // managedFields status time - creationTimestamp (s, 1-s resolution)
	deleted     map[string]time.Time // delete request returned
	gone        map[string]time.Time // watch saw the pod deleted
	t0, t1      time.Time            // first create, first delete
	series      [][2]float64         // (s since t0, pods Running)
	seriesDel   [][2]float64         // (s since t1, pods left)
	allRunning  chan struct{}
	allGone     chan struct{}
	n           int
	deleting    bool
	onPod       func(*corev1.Pod) // the simulated agent, if any
}

func newTracker(n int) *tracker {
	return &tracker{
		created: map[string]time.Time{}, running: map[string]time.Time{},
		statusWrite: map[string]float64{}, deleted: map[string]time.Time{}, gone: map[string]time.Time{},
		allRunning: make(chan struct{}), allGone: make(chan struct{}), n: n,
	}
}

func (t *tracker) seen(obj interface{}) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	now := time.Now()
	if t.onPod != nil {
		t.onPod(pod)
	}
	if pod.Status.Phase != corev1.PodRunning {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, done := t.running[pod.Name]; done || t.deleting {
		return
	}
	t.running[pod.Name] = now
	if w, ok := statusWriteTime(pod); ok {
		t.statusWrite[pod.Name] = w.Sub(pod.CreationTimestamp.Time).Seconds()
	}
	t.series = append(t.series, [2]float64{now.Sub(t.t0).Seconds(), float64(len(t.running))})
	if len(t.running) == t.n {
		close(t.allRunning)
	}
}

func (t *tracker) removed(obj interface{}) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		d, ok2 := obj.(cache.DeletedFinalStateUnknown)
		if !ok2 {
			return
		}
		if pod, ok = d.Obj.(*corev1.Pod); !ok {
			return
		}
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, done := t.gone[pod.Name]; done {
		return
	}
	t.gone[pod.Name] = now
	if !t.t1.IsZero() {
		t.seriesDel = append(t.seriesDel, [2]float64{now.Sub(t.t1).Seconds(), float64(t.n - len(t.gone))})
	}
	if len(t.gone) == t.n {
		close(t.allGone)
	}
}

// statusWriteTime is the newest managedFields time of a write to the status
// subresource: when the Running status was written (1-s resolution).
func statusWriteTime(pod *corev1.Pod) (time.Time, bool) {
	var best time.Time
	for _, mf := range pod.ManagedFields {
		if mf.Subresource == "status" && mf.Time != nil && mf.Time.After(best) {
			best = mf.Time.Time
		}
	}
	return best, !best.IsZero()
}

// ---- /proc sampling of the agent -------------------------------------------

type memSample struct {
	t         time.Time
	rss, anon int64 // kB
}

type sampler struct {
	pid     int
	mu      sync.Mutex
	samples []memSample
	stop    chan struct{}
	done    chan struct{}
}

func readStatus(pid int) (rss, anon int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v
		case "RssAnon:":
			anon = v
		}
	}
	return rss, anon, nil
}

// cpuTicks is utime+stime of the process, in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	// The command name in parentheses may hold blanks: fields count from the last ')'.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st, nil
}

func startSampler(pid int) *sampler {
	s := &sampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, anon, err := readStatus(pid); err == nil {
				s.mu.Lock()
				s.samples = append(s.samples, memSample{time.Now(), rss, anon})
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// window returns the samples taken in [from, to].
func (s *sampler) window(from, to time.Time) []memSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []memSample
	for _, m := range s.samples {
		if !m.t.Before(from) && !m.t.After(to) {
			out = append(out, m)
		}
	}
	return out
}

func medianInt(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	c := append([]int64(nil), v...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	return c[len(c)/2]
}

func summarize(ms []memSample) (rssMed, anonMed, rssMax, anonMax int64) {
	var r, a []int64
	for _, m := range ms {
		r = append(r, m.rss)
		a = append(a, m.anon)
		if m.rss > rssMax {
			rssMax = m.rss
		}
		if m.anon > anonMax {
			anonMax = m.anon
		}
	}
	return medianInt(r), medianInt(a), rssMax, anonMax
}

// ---- helpers --------------------------------------------------------------

func clientFor(path string, o *options, agent string) (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, err
	}
	cfg.QPS = float32(o.qps)
	cfg.Burst = o.burst
	cfg.UserAgent = agent
	return kubernetes.NewForConfig(rest.CopyConfig(cfg))
}

func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	i := int(p*float64(len(c)-1) + 0.5)
	return c[i]
}

// thin keeps at most max points of a series (the plot needs no more).
func thin(s [][2]float64, max int) [][2]float64 {
	if len(s) <= max {
		return s
	}
	out := make([][2]float64, 0, max+1)
	step := float64(len(s)-1) / float64(max-1)
	for i := 0; i < max; i++ {
		out = append(out, s[int(float64(i)*step+0.5)])
	}
	return out
}

func round(v float64, digits int) float64 {
	p := 1.0
	for i := 0; i < digits; i++ {
		p *= 10
	}
	return float64(int64(v*p+0.5)) / p
}

// tokenMount is nil (the API's default) unless -no-token.
func tokenMount(o *options) *bool {
	if !o.noToken {
		return nil
	}
	f := false
	return &f
}

func podFor(o *options, i int) *corev1.Pod {
	grace := o.grace
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s-%05d", o.runID, i),
			Namespace: o.namespace,
			Labels:    map[string]string{"vk-bench/run": o.runID},
		},
		Spec: corev1.PodSpec{
			NodeName:                      o.node,
			AutomountServiceAccountToken:  tokenMount(o),
			TerminationGracePeriodSeconds: &grace,
			Tolerations: []corev1.Toleration{{
				Key: o.taintKey, Operator: corev1.TolerationOpEqual, Value: o.taintValue,
				Effect: corev1.TaintEffectNoSchedule,
			}},
			Containers: []corev1.Container{{
				Name: "main", Image: "docker.io/library/busybox:1.35", Command: []string{"sleep", "3600"},
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("1m"), corev1.ResourceMemory: resource.MustParse("1Mi"),
				}},
			}},
		},
	}
}

// parallel runs fn(i) for i in [0, n) on w goroutines; returns the errors seen.
func parallel(n, w int, fn func(i int) error) (errs int64, first error) {
	var next int64 = -1
	var mu sync.Mutex
	var wg sync.WaitGroup
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(atomic.AddInt64(&next, 1))
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					atomic.AddInt64(&errs, 1)
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return errs, first
}

// ---- the simulated agent (raw API ceiling) ---------------------------------

type simAgent struct {
	cs       *kubernetes.Clientset
	ns       string
	queue    chan *corev1.Pod
	mu       sync.Mutex
	statusd  map[string]bool
	deleted  map[string]bool
	errs     int64
	terminal bool // write the terminal status before the final delete
}

func newSimAgent(cs *kubernetes.Clientset, ns string, n, workers int) *simAgent {
	a := &simAgent{cs: cs, ns: ns, queue: make(chan *corev1.Pod, 4*n+16),
		statusd: map[string]bool{}, deleted: map[string]bool{}}
	for i := 0; i < workers; i++ {
		go a.work()
	}
	return a
}

// offer is called for every pod the watch shows; it queues the one write the
// pod needs next, once.
func (a *simAgent) offer(pod *corev1.Pod) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if pod.DeletionTimestamp != nil {
		if !a.deleted[pod.Name] {
			a.deleted[pod.Name] = true
			a.queue <- pod
		}
		return
	}
	if pod.Status.Phase != corev1.PodRunning && !a.statusd[pod.Name] {
		a.statusd[pod.Name] = true
		a.queue <- pod
	}
}

func runningStatus(pod *corev1.Pod) corev1.PodStatus {
	now := metav1.Now()
	st := corev1.PodStatus{
		Phase: corev1.PodRunning, HostIP: "127.0.0.1", PodIP: "10.250.0.1", StartTime: &now,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
	}
	for _, c := range pod.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	return st
}

// terminalStatus is what kubelet reports of a pod it has stopped for its
// deletion: phase Succeeded, not ready, every container terminated.
func terminalStatus(pod *corev1.Pod) corev1.PodStatus {
	now := metav1.Now()
	st := pod.Status
	st.Phase = corev1.PodSucceeded
	st.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, LastTransitionTime: now, Reason: "PodCompleted"},
		{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: now, Reason: "PodCompleted"},
	}
	st.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed", FinishedAt: now}},
		})
	}
	return st
}

func (a *simAgent) work() {
	ctx := context.Background()
	pods := a.cs.CoreV1().Pods(a.ns)
	for pod := range a.queue {
		var err error
		if pod.DeletionTimestamp != nil {
			if a.terminal {
				// kubelet's order: the containers' final state, then the delete
				p := pod.DeepCopy()
				p.Status = terminalStatus(p)
				if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
					fmt.Fprintf(os.Stderr, "loadgen: simulated agent: terminal status of %s: %v\n", pod.Name, err)
				}
			}
			zero := int64(0)
			err = pods.Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero,
				Preconditions: &metav1.Preconditions{UID: &pod.UID}})
			if apierrors.IsNotFound(err) {
				err = nil
			}
		} else {
			p := pod.DeepCopy()
			p.Status = runningStatus(p)
			_, err = pods.UpdateStatus(ctx, p, metav1.UpdateOptions{})
			if apierrors.IsConflict(err) { // a newer version: write on top of it, once
				if cur, gerr := pods.Get(ctx, pod.Name, metav1.GetOptions{}); gerr == nil && cur.DeletionTimestamp == nil {
					cur.Status = runningStatus(cur)
					_, err = pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
				}
			}
		}
		if err != nil {
			atomic.AddInt64(&a.errs, 1)
			fmt.Fprintf(os.Stderr, "loadgen: simulated agent: %s: %v\n", pod.Name, err)
		}
	}
}

// ---- API requests, from the API server's own counters ----------------------

// apiCounts sums apiserver_request_total by "VERB resource[/subresource]"
// (the API server counts every request it served, whoever made it).
func apiCounts(ctx context.Context, cs *kubernetes.Clientset) (map[string]float64, error) {
	body, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		end := strings.LastIndexByte(line, '}')
		if end < 0 {
			continue
		}
		labels := map[string]string{}
		for _, kv := range strings.Split(line[len("apiserver_request_total{"):end], ",") {
			if eq := strings.IndexByte(kv, '='); eq > 0 {
				labels[kv[:eq]] = strings.Trim(kv[eq+1:], `"`)
			}
		}
		if labels["resource"] == "" || labels["verb"] == "WATCH" {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(line[end+1:]), 64)
		if err != nil {
			continue
		}
		key := labels["verb"] + " " + labels["resource"]
		if labels["subresource"] != "" {
			key += "/" + labels["subresource"]
		}
		out[key] += v
	}
	return out, nil
}

// apiDelta is after - before, without zero entries; writes counts the
// POST/PUT/PATCH/DELETE requests among them.
func apiDelta(before, after map[string]float64) (d map[string]float64, writes float64) {
	d = map[string]float64{}
	for k, v := range after {
		if dv := v - before[k]; dv > 0 {
			d[k] = dv
			switch strings.SplitN(k, " ", 2)[0] {
			case "POST", "PUT", "PATCH", "DELETE":
				writes += dv
			}
		}
	}
	return d, writes
}

// ---- main -----------------------------------------------------------------

func main() {
	o := &options{}
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the load client (admin)")
	flag.StringVar(&o.agentKubeconfig, "agent-kubeconfig", "", "kubeconfig of the simulated agent (default: -kubeconfig)")
	flag.StringVar(&o.namespace, "namespace", "bench", "namespace of the pods (created if missing)")
	flag.StringVar(&o.node, "node", "", "node name the pods are bound to")
	flag.StringVar(&o.runID, "run-id", "bench", "pod name prefix and vk-bench/run label value")
	flag.StringVar(&o.taintKey, "taint-key", "virtual-kubelet.io/provider", "taint key to tolerate")
	flag.StringVar(&o.taintValue, "taint-value", "mock", "taint value to tolerate")
	flag.IntVar(&o.pods, "pods", 100, "number of pods")
	flag.IntVar(&o.workers, "workers", 64, "concurrent create/delete requests")
	flag.IntVar(&o.agentWorkers, "agent-workers", 64, "concurrent writes of the simulated agent")
	flag.Float64Var(&o.qps, "qps", 500, "client-side QPS limit of each client")
	flag.IntVar(&o.burst, "burst", 1000, "client-side burst of each client")
	flag.IntVar(&o.pid, "pid", 0, "the agent's PID: sample its memory and CPU")
	flag.Float64Var(&o.clkTck, "clk-tck", 100, "clock ticks per second (getconf CLK_TCK)")
	flag.DurationVar(&o.settle, "settle", 10*time.Second, "wait before measuring idle")
	flag.DurationVar(&o.idle, "idle", 60*time.Second, "idle window (memory, CPU)")
	flag.DurationVar(&o.steady, "steady", 5*time.Second, "hold time with all pods Running (steady memory)")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up on a phase after this long")
	flag.BoolVar(&o.simulate, "simulate-agent", false, "also play the agent (raw API ceiling)")
	flag.BoolVar(&o.createNode, "create-node", false, "create the Node object -node first (for -simulate-agent)")
	flag.BoolVar(&o.terminalStatus, "terminal-status", false, "the simulated agent writes a terminal status before the final delete, as kubelet does")
	flag.BoolVar(&o.noToken, "no-token", false, "pods without the service account token volume (automountServiceAccountToken: false)")
	flag.Int64Var(&o.grace, "grace", 30, "terminationGracePeriodSeconds of the pods")
	flag.StringVar(&o.atN, "at-n", "", "shell command run once all N pods are Running, after the hold; its stdout (a JSON object) is the result's at_n")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(1)
	}
}

func run(o *options) error {
	if o.node == "" || o.kubeconfig == "" {
		return fmt.Errorf("-node and -kubeconfig are required")
	}
	ctx := context.Background()
	cs, err := clientFor(o.kubeconfig, o, "vk-bench-loadgen")
	if err != nil {
		return err
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.namespace}},
		metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace: %w", err)
	}
	if o.createNode {
		if err := ensureNode(ctx, cs, o.node); err != nil {
			return fmt.Errorf("node: %w", err)
		}
	}

	out := map[string]interface{}{"node": o.node, "pods": o.pods, "simulated_agent": o.simulate,
		"simulated_terminal_status": o.simulate && o.terminalStatus}

	// Idle: memory and CPU of the agent with 0 pods.
	var smp *sampler
	if o.pid > 0 {
		smp = startSampler(o.pid)
		defer func() { close(smp.stop); <-smp.done }()
		time.Sleep(o.settle)
		c0, err := cpuTicks(o.pid)
		if err != nil {
			return err
		}
		from := time.Now()
		time.Sleep(o.idle)
		c1, err := cpuTicks(o.pid)
		if err != nil {
			return err
		}
		r, a, _, _ := summarize(smp.window(from, time.Now()))
		out["idle_rss_kb"], out["idle_anon_kb"] = r, a
		out["idle_cpu_s"] = round(float64(c1-c0)/o.clkTck, 3)
		out["idle_window_s"] = o.idle.Seconds()
	}

	tr := newTracker(o.pods)
	var sim *simAgent
	if o.simulate {
		path := o.agentKubeconfig
		if path == "" {
			path = o.kubeconfig
		}
		acs, err := clientFor(path, o, "vk-bench-simulated-agent")
		if err != nil {
			return err
		}
		sim = newSimAgent(acs, o.namespace, o.pods, o.agentWorkers)
		sim.terminal = o.terminalStatus
		// The simulated agent watches through its own client, like a real one.
		stopSim := make(chan struct{})
		defer close(stopSim)
		if err := startInformer(acs, o, stopSim, cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj interface{}) { sim.offer(obj.(*corev1.Pod)) },
			UpdateFunc: func(_, obj interface{}) { sim.offer(obj.(*corev1.Pod)) },
		}); err != nil {
			return err
		}
	}

	stop := make(chan struct{})
	defer close(stop)
	if err := startInformer(cs, o, stop, cache.ResourceEventHandlerFuncs{
		AddFunc:    tr.seen,
		UpdateFunc: func(_, obj interface{}) { tr.seen(obj) },
		DeleteFunc: tr.removed,
	}); err != nil {
		return err
	}

	// Churn, part 1: create all, wait for all Running.
	var cpu0 int64
	if o.pid > 0 {
		if cpu0, err = cpuTicks(o.pid); err != nil {
			return err
		}
	}
	pods := cs.CoreV1().Pods(o.namespace)
	api0, apiErr := apiCounts(ctx, cs)
	tr.mu.Lock()
	tr.t0 = time.Now()
	tr.mu.Unlock()
	cerrs, cfirst := parallel(o.pods, o.workers, func(i int) error {
		p := podFor(o, i)
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return err
		}
		now := time.Now()
		tr.mu.Lock()
		tr.created[p.Name] = now
		tr.mu.Unlock()
		return nil
	})
	if cerrs > 0 {
		return fmt.Errorf("%d creates failed, first: %v", cerrs, cfirst)
	}
	createDone := time.Now()
	select {
	case <-tr.allRunning:
	case <-time.After(o.timeout):
		tr.mu.Lock()
		n := len(tr.running)
		tr.mu.Unlock()
		return fmt.Errorf("timeout: %d of %d pods Running after %s", n, o.pods, o.timeout)
	}
	tr.mu.Lock()
	var tRun time.Time
	var lat, swl []float64
	for name, t := range tr.running {
		if t.After(tRun) {
			tRun = t
		}
		if c, ok := tr.created[name]; ok {
			d := t.Sub(c).Seconds() * 1000
			if d < 0 {
				d = 0
			}
			lat = append(lat, d)
		}
	}
	for _, v := range tr.statusWrite {
		swl = append(swl, v)
	}
	tr.deleting = true
	tr.mu.Unlock()
	runS := tRun.Sub(tr.t0).Seconds()
	out["create_requests_s"] = round(createDone.Sub(tr.t0).Seconds(), 3)
	out["create_to_all_running_s"] = round(runS, 3)
	out["pods_per_s"] = round(float64(o.pods)/runS, 1)
	out["latency_ms_p50"] = round(percentile(lat, 0.50), 1)
	out["latency_ms_p99"] = round(percentile(lat, 0.99), 1)
	out["status_write_latency_s_p50"] = percentile(swl, 0.50)
	out["status_write_latency_s_p99"] = percentile(swl, 0.99)

	// Steady memory at N pods.
	var cpuRunning int64
	if o.pid > 0 {
		if cpuRunning, err = cpuTicks(o.pid); err != nil {
			return err
		}
		from := time.Now()
		time.Sleep(o.steady)
		r, a, _, _ := summarize(smp.window(from, time.Now()))
		out["steady_rss_kb"], out["steady_anon_kb"] = r, a
		c, err := cpuTicks(o.pid)
		if err != nil {
			return err
		}
		out["steady_cpu_s"] = round(float64(c-cpuRunning)/o.clkTck, 3)
		cpu0 += c - cpuRunning // the hold is not churn
	}
	// A measurement at N pods (e.g. a hot reload), not part of the churn.
	if o.atN != "" {
		var c0 int64
		if o.pid > 0 {
			c0, _ = cpuTicks(o.pid)
		}
		cmd := exec.CommandContext(ctx, "sh", "-c", o.atN)
		cmd.Stderr = os.Stderr
		b, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("-at-n: %v", err)
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("-at-n: its output is not a JSON object: %v: %q", err, b)
		}
		out["at_n"] = v
		if o.pid > 0 {
			if c, err := cpuTicks(o.pid); err == nil {
				cpu0 += c - c0
			}
		}
	}

	// Churn, part 2: delete all (graceful), wait until all are gone.
	tr.mu.Lock()
	tr.t1 = time.Now()
	tr.mu.Unlock()
	derrs, dfirst := parallel(o.pods, o.workers, func(i int) error {
		name := podFor(o, i).Name
		if err := pods.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		now := time.Now()
		tr.mu.Lock()
		tr.deleted[name] = now
		tr.mu.Unlock()
		return nil
	})
	if derrs > 0 {
		return fmt.Errorf("%d deletes failed, first: %v", derrs, dfirst)
	}
	select {
	case <-tr.allGone:
	case <-time.After(o.timeout):
		tr.mu.Lock()
		n := len(tr.gone)
		tr.mu.Unlock()
		return fmt.Errorf("timeout: %d of %d pods gone after %s", n, o.pods, o.timeout)
	}
	tEnd := time.Now()
	tr.mu.Lock()
	var tGone time.Time
	var dlat []float64
	for name, t := range tr.gone {
		if t.After(tGone) {
			tGone = t
		}
		if d, ok := tr.deleted[name]; ok {
			dlat = append(dlat, t.Sub(d).Seconds()*1000)
		}
	}
	tr.mu.Unlock()
	goneS := tGone.Sub(tr.t1).Seconds()
	out["delete_all_gone_s"] = round(goneS, 3)
	out["delete_pods_per_s"] = round(float64(o.pods)/goneS, 1)
	out["delete_latency_ms_p50"] = round(percentile(dlat, 0.50), 1)
	out["delete_latency_ms_p99"] = round(percentile(dlat, 0.99), 1)
	out["churn_pods_per_s"] = round(float64(o.pods)/(runS+goneS), 1)
	if o.pid > 0 {
		c, err := cpuTicks(o.pid)
		if err != nil {
			return err
		}
		out["churn_cpu_s"] = round(float64(c-cpu0)/o.clkTck, 3)
		_, _, rMax, aMax := summarize(smp.window(tr.t0, tEnd))
		out["peak_rss_kb"], out["peak_anon_kb"] = rMax, aMax
	}
	// The requests the API server served during the churn, all clients
	// together (the load client's own N creates and N deletes among them).
	if api1, err := apiCounts(ctx, cs); err == nil && apiErr == nil {
		d, writes := apiDelta(api0, api1)
		out["api_requests"] = d
		out["api_writes_per_pod_besides_load_client"] = round((writes-float64(2*o.pods))/float64(o.pods), 2)
	}
	if sim != nil {
		out["simulated_agent_errors"] = atomic.LoadInt64(&sim.errs)
	}
	tr.mu.Lock()
	out["series"] = thin(tr.series, 400)
	out["series_delete"] = thin(tr.seriesDel, 400)
	tr.mu.Unlock()
	return json.NewEncoder(os.Stdout).Encode(out)
}

func startInformer(cs *kubernetes.Clientset, o *options, stop chan struct{}, h cache.ResourceEventHandlerFuncs) error {
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(o.namespace),
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
			lo.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", o.node).String()
			lo.LabelSelector = "vk-bench/run=" + o.runID
		}))
	inf := f.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(h); err != nil {
		return err
	}
	f.Start(stop)
	for t, ok := range f.WaitForCacheSync(stop) {
		if !ok {
			return fmt.Errorf("informer %v did not sync", t)
		}
	}
	return nil
}

// ensureNode creates a Ready Node object for the simulated agent's pods, so
// that they are bound to a node that exists (the pod GC removes pods of
// missing nodes).
func ensureNode(ctx context.Context, cs *kubernetes.Clientset, name string) error {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"type": "vk-bench-simulated"}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "virtual-kubelet.io/provider", Value: "simulated",
			Effect: corev1.TaintEffectNoSchedule}}},
	}
	_, err := cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	// The node controllers write the new Node too: retry on conflict.
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		cur.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
			LastHeartbeatTime: now, LastTransitionTime: now, Reason: "Simulated"}}
		cur.Status.Capacity = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("2000"),
			corev1.ResourceCPU: resource.MustParse("20"), corev1.ResourceMemory: resource.MustParse("100Gi")}
		cur.Status.Allocatable = cur.Status.Capacity
		_, err = cs.CoreV1().Nodes().UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}
