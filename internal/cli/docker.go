package cli

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/edatestbed/testbed/internal/runtime/docker"
	"github.com/edatestbed/testbed/internal/stack"
)

func doctorCmd(e env, args []string) int {
	fs := flags(e, "doctor", `
Usage: testbed doctor [--registry]

Says whether 'testbed run --runtime docker' can run here, and what it will
run for each piece of infrastructure:

  docker: Docker Engine 28.2.2 (API 1.50)
    kafka    apache/kafka:4.1.1  absent -> embedded broker (kfake, 3 nodes) in the testbed image (...)
    jaeger   jaegertracing/...   absent -> /repo/bin/jaeger on the host, OTLP from the containers through a proxy (...)

The first column after the image says whether the image is on this Docker
engine (present), or, with --registry, whether the registry has it
(pullable, unpullable); without --registry absent images are not looked up,
which is the truth on a machine without a registry. After the arrow: what a
run will use. Nothing is ever pulled.

Exit status: 0 when a Docker engine answers, 1 when not (the local runtime
still works: 'testbed run' without --runtime).
`)
	registry := fs.Bool("registry", false, "ask the registry, through the engine, whether absent images could be pulled (nothing is downloaded)")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(e.stderr, "doctor: takes no arguments")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	jaeger, _ := stack.Find("jaeger", "")
	prom, _ := stack.Find("prometheus", "")
	rep := docker.Doctor(ctx, docker.DoctorOptions{Registry: *registry, Jaeger: jaeger, Prometheus: prom})
	fmt.Fprint(e.stdout, rep)
	if !rep.Ready {
		return 1
	}
	return 0
}

func cleanCmd(e env, args []string) int {
	fs := flags(e, "clean", `
Usage: testbed clean [--stale | --run <run-id>]

Removes what the docker runtime created: every container and network
labelled testbed.run, and the testbed images it built (edatestbed-local/*).
A run cleans up after itself, even on Ctrl-C, and each docker run first
removes what runs whose testbed died left behind; this is for a testbed
killed with SIGKILL, or to free the disk the images take.

Without flags it removes everything, runs in progress included. --stale
removes only the runs whose testbed process is gone; --run only one run.
It prints what it removes, one line each.
`)
	stale := fs.Bool("stale", false, "remove only runs whose testbed process no longer exists")
	one := fs.String("run", "", "remove only the containers and networks of this `run-id`")
	if code, stop := parse(fs, args); stop {
		return code
	}
	if fs.NArg() != 0 || *stale && *one != "" {
		fmt.Fprintln(e.stderr, "clean: takes no arguments, and at most one of --stale and --run")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := docker.Available(ctx); err != nil {
		fmt.Fprintf(e.stderr, "clean: %v\n", err)
		return 1
	}
	if *stale {
		runs, err := docker.CleanupStale(ctx)
		for _, r := range runs {
			fmt.Fprintf(e.stdout, "removed run %s\n", r)
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "clean: %v\n", err)
			return 1
		}
		if len(runs) == 0 {
			fmt.Fprintln(e.stdout, "nothing to remove: no run of a dead testbed")
		}
		return 0
	}
	var removed []string
	var err error
	if *one != "" {
		removed, err = docker.Cleanup(ctx, *one)
	} else {
		removed, err = docker.CleanupAll(ctx)
	}
	for _, r := range removed {
		fmt.Fprintf(e.stdout, "removed %s\n", r)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "clean: %v\n", err)
		return 1
	}
	if len(removed) == 0 {
		fmt.Fprintln(e.stdout, "no container or network of a run to remove")
	}
	if *one == "" {
		fmt.Fprintln(e.stdout, "removed the testbed images no container uses")
	}
	return 0
}
