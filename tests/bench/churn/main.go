// churn keeps -pods pods bound to -node and replaces them continuously for
// -duration: each step deletes the oldest -batch pods (graceful, so the agent
// makes the final delete) and creates as many new ones, at -rate pods per
// second.  It samples the agent's VmRSS (-pid) every -sample and writes one
// line per sample to stdout: "SECONDS RSS_KIB PODS_EXISTING CREATED DELETED
// QUIET".  Every -quiet-every the churn pauses until exactly -pods pods exist,
// all Running, waits -settle and takes a sample with QUIET 1: the agent then
// holds the same set of pods each time, so those samples compare (the others,
// QUIET 0, move with the pods still terminating).
// Used by tests/bench/soak_rss.sh; progress and errors go to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

type options struct {
	kubeconfig, namespace, node, taintKey, taintValue string
	pods, batch, pid, workers                         int
	rate                                              float64
	duration, sample, quietEvery, settle              time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "admin kubeconfig")
	flag.StringVar(&o.namespace, "namespace", "soak", "namespace of the pods (created if missing)")
	flag.StringVar(&o.node, "node", "", "node the pods are bound to")
	flag.StringVar(&o.taintKey, "taint-key", "virtual-kubelet.io/provider", "taint key to tolerate")
	flag.StringVar(&o.taintValue, "taint-value", "mock", "taint value to tolerate")
	flag.IntVar(&o.pods, "pods", 1000, "pods kept on the node")
	flag.IntVar(&o.batch, "batch", 10, "pods replaced per step")
	flag.Float64Var(&o.rate, "rate", 10, "pods replaced per second")
	flag.IntVar(&o.workers, "workers", 16, "concurrent requests")
	flag.IntVar(&o.pid, "pid", 0, "the agent's PID (RSS samples)")
	flag.DurationVar(&o.duration, "duration", 30*time.Minute, "how long to churn")
	flag.DurationVar(&o.sample, "sample", 5*time.Second, "RSS sample interval")
	flag.DurationVar(&o.quietEvery, "quiet-every", time.Minute, "pause the churn this often for a quiet sample (0: never)")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "wait before a quiet sample")
	flag.Parse()
	if err := run(&o); err != nil {
		fmt.Fprintln(os.Stderr, "churn:", err)
		os.Exit(1)
	}
}

func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

func podFor(o *options, i int) *corev1.Pod {
	grace := int64(30)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("soak-%07d", i), Namespace: o.namespace,
			Labels: map[string]string{"vk-bench/run": "soak"},
		},
		Spec: corev1.PodSpec{
			NodeName:                      o.node,
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

// each runs fn over [from, to) on o.workers goroutines and counts failures.
func each(o *options, from, to int, fn func(i int) error) int64 {
	var next = int64(from) - 1
	var fails int64
	var wg sync.WaitGroup
	for w := 0; w < o.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(atomic.AddInt64(&next, 1))
				if i >= to {
					return
				}
				if err := fn(i); err != nil {
					if atomic.AddInt64(&fails, 1) <= 5 {
						fmt.Fprintln(os.Stderr, "churn:", err)
					}
				}
			}
		}()
	}
	wg.Wait()
	return fails
}

func run(o *options) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst, cfg.UserAgent = 200, 400, "vk-soak-churn"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.namespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil &&
		!strings.Contains(err.Error(), "already exists") {
		return err
	}
	var created, deleted int64
	create := func(i int) error {
		_, err := cs.CoreV1().Pods(o.namespace).Create(ctx, podFor(o, i), metav1.CreateOptions{})
		if err == nil {
			atomic.AddInt64(&created, 1)
		}
		return err
	}
	del := func(i int) error {
		err := cs.CoreV1().Pods(o.namespace).Delete(ctx, podFor(o, i).Name, metav1.DeleteOptions{})
		if err == nil {
			atomic.AddInt64(&deleted, 1)
		}
		return err
	}

	t0 := time.Now()
	var mu sync.Mutex // one sample line at a time
	sampleLine := func(quiet int) {
		rss, err := rssKiB(o.pid)
		if err != nil {
			fmt.Fprintln(os.Stderr, "churn: the agent is gone:", err)
			os.Exit(1)
		}
		list, err := cs.CoreV1().Pods(o.namespace).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		n := -1
		if err == nil {
			n = len(list.Items)
		}
		mu.Lock()
		fmt.Printf("%.1f %d %d %d %d %d\n", time.Since(t0).Seconds(), rss, n,
			atomic.LoadInt64(&created), atomic.LoadInt64(&deleted), quiet)
		mu.Unlock()
	}
	// quiet waits until exactly o.pods pods exist and all are Running.
	quiet := func() {
		limit := time.Now().Add(5 * time.Minute)
		for time.Now().Before(limit) {
			list, err := cs.CoreV1().Pods(o.namespace).List(ctx, metav1.ListOptions{})
			if err == nil && len(list.Items) == o.pods {
				running := 0
				for i := range list.Items {
					if list.Items[i].Status.Phase == corev1.PodRunning && list.Items[i].DeletionTimestamp == nil {
						running++
					}
				}
				if running == o.pods {
					time.Sleep(o.settle)
					sampleLine(1)
					return
				}
			}
			time.Sleep(time.Second)
		}
		fmt.Fprintln(os.Stderr, "churn: no quiet moment within 5 minutes; going on")
	}
	done := make(chan struct{})
	var samplerDone sync.WaitGroup
	if o.pid > 0 {
		samplerDone.Add(1)
		go func() {
			defer samplerDone.Done()
			tick := time.NewTicker(o.sample)
			defer tick.Stop()
			for {
				sampleLine(0)
				select {
				case <-done:
					return
				case <-tick.C:
				}
			}
		}()
	}

	// Fill, then replace the oldest batch at a time: pods [lo, hi) exist.
	lo, hi := 0, o.pods
	if f := each(o, lo, hi, create); f > 0 {
		fmt.Fprintf(os.Stderr, "churn: %d creates failed while filling\n", f)
	}
	fmt.Fprintf(os.Stderr, "churn: %d pods created in %.1f s; churning for %s\n", o.pods, time.Since(t0).Seconds(), o.duration)
	step := time.Duration(float64(time.Second) * float64(o.batch) / o.rate)
	end := time.Now().Add(o.duration)
	var fails int64
	nextQuiet := time.Now().Add(o.quietEvery)
	if o.pid > 0 {
		quiet()
	}
	for next := time.Now(); time.Now().Before(end); {
		if o.pid > 0 && o.quietEvery > 0 && time.Now().After(nextQuiet) {
			quiet()
			nextQuiet = time.Now().Add(o.quietEvery)
			next = time.Now()
		}
		fails += each(o, lo, lo+o.batch, del)
		fails += each(o, hi, hi+o.batch, create)
		lo += o.batch
		hi += o.batch
		next = next.Add(step)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
	}
	close(done)
	samplerDone.Wait()
	fmt.Fprintf(os.Stderr, "churn: done after %.0f s: %d created, %d deleted, %d requests failed\n",
		time.Since(t0).Seconds(), atomic.LoadInt64(&created), atomic.LoadInt64(&deleted), fails)
	// Leave the last pods for the caller to delete with the namespace.
	return nil
}
