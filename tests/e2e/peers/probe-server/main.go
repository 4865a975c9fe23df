// probe-server: the servers mynode's probes are tested against, in one
// static binary that a test mounts into a busybox pod (so probes reach it
// only through the pod's network namespace):
//
//	probe-server -grpc ADDR -https ADDR -http ADDR [-serving-file PATH]
//
//   - grpc:  the standard gRPC health service (google.golang.org/grpc/health):
//     SERVING for "" and "app" while PATH exists (always without
//     -serving-file), NOT_SERVING otherwise, SERVICE_UNKNOWN for others.
//   - https: 200 "ok" to any GET, with a self-signed certificate made at start.
//   - http:  200 when the request has the header "X-Probe: yes", else 403;
//     it logs each request's path, User-Agent and X-Probe to stdout, and
//     appends the path to the file given with -log.
//
// An empty address turns that server off.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func selfSigned() tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "probe-server"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{"probe-server.invalid"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func main() {
	grpcAddr := flag.String("grpc", "", "gRPC health server address")
	httpsAddr := flag.String("https", "", "HTTPS server address")
	httpAddr := flag.String("http", "", "HTTP server address (wants X-Probe: yes)")
	servingFile := flag.String("serving-file", "", "gRPC: serve while this file exists")
	logFile := flag.String("log", "", "HTTP: append each request's path to this file")
	flag.Parse()
	log.SetOutput(os.Stdout)
	if *httpsAddr != "" {
		srv := &http.Server{Addr: *httpsAddr, TLSConfig: &tls.Config{Certificates: []tls.Certificate{selfSigned()}},
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })}
		go func() { log.Fatal(srv.ListenAndServeTLS("", "")) }()
	}
	if *httpAddr != "" {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			log.Printf("http %s user-agent=%q x-probe=%q", r.URL.Path, r.UserAgent(), r.Header.Get("X-Probe"))
			if *logFile != "" {
				if f, err := os.OpenFile(*logFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
					f.WriteString(r.URL.Path + "\n")
					f.Close()
				}
			}
			if r.Header.Get("X-Probe") != "yes" {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			w.Write([]byte("ok\n"))
		})
		go func() { log.Fatal(http.ListenAndServe(*httpAddr, h)) }()
	}
	if *grpcAddr != "" {
		lis, err := net.Listen("tcp", *grpcAddr)
		if err != nil {
			log.Fatal(err)
		}
		hs := health.NewServer()
		set := func() {
			st := healthpb.HealthCheckResponse_SERVING
			if *servingFile != "" {
				if _, err := os.Stat(*servingFile); err != nil {
					st = healthpb.HealthCheckResponse_NOT_SERVING
				}
			}
			hs.SetServingStatus("", st)
			hs.SetServingStatus("app", st)
		}
		set()
		go func() {
			for range time.Tick(200 * time.Millisecond) {
				set()
			}
		}()
		s := grpc.NewServer()
		healthpb.RegisterHealthServer(s, hs)
		go func() { log.Fatal(s.Serve(lis)) }()
	}
	log.Printf("probe-server ready")
	select {}
}
