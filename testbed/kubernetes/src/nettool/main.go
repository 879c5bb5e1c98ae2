// nettool: a tiny static program for the cluster's network tests.
//
//	nettool serve PORT          answer HTTP GET with "flinkops-echo <hostname>"
//	nettool files PORT DIR      serve the files of DIR over plain HTTP (job jars Flink fetches)
//	nettool dns NAME            resolve NAME with the pod's resolver, print the addresses
//	nettool get URL             HTTP GET, print status and body (exit 1 unless 200)
//	nettool api PATH            GET https://kubernetes.default.svc<PATH> with the pod's
//	                            service-account token and CA; print status and body
//	nettool cat FILE            print FILE (the image has no shell)
//	nettool sleep               sleep until killed
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

func die(format string, a ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", a...)
	os.Exit(1)
}

func show(resp *http.Response, err error) {
	if err != nil {
		die("request failed: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	fmt.Printf("status %d\n%s\n", resp.StatusCode, body)
	if resp.StatusCode != 200 {
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) < 2 {
		die("usage: nettool serve PORT | files PORT DIR | dns NAME | get URL | api PATH | cat FILE | sleep")
	}
	switch os.Args[1] {
	case "serve":
		host, _ := os.Hostname()
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "flinkops-echo %s\n", host)
		})
		die("%v", http.ListenAndServe(":"+os.Args[2], nil))
	case "files":
		if len(os.Args) < 4 {
			die("usage: nettool files PORT DIR")
		}
		die("%v", http.ListenAndServe(":"+os.Args[2], http.FileServer(http.Dir(os.Args[3]))))
	case "dns":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		addrs, err := net.DefaultResolver.LookupHost(ctx, os.Args[2])
		if err != nil {
			die("lookup %s: %v", os.Args[2], err)
		}
		for _, a := range addrs {
			fmt.Println(a)
		}
	case "get":
		c := &http.Client{Timeout: 10 * time.Second}
		show(c.Get(os.Args[2]))
	case "api":
		token, err := os.ReadFile(saDir + "/token")
		if err != nil {
			die("no service-account token: %v", err)
		}
		ca, err := os.ReadFile(saDir + "/ca.crt")
		if err != nil {
			die("no service-account CA: %v", err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool}}}
		req, _ := http.NewRequest("GET", "https://kubernetes.default.svc"+os.Args[2], nil)
		req.Header.Set("Authorization", "Bearer "+string(token))
		show(c.Do(req))
	case "cat":
		data, err := os.ReadFile(os.Args[2])
		if err != nil {
			die("%v", err)
		}
		os.Stdout.Write(data)
	case "sleep":
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
		<-sigs
	default:
		die("unknown command %q", os.Args[1])
	}
}
