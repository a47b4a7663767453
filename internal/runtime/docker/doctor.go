package docker

import (
	"context"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// The infrastructure images of the docker runtime, pinned here and nowhere
// else.
const (
	KafkaImage         = "apache/kafka:4.1.1"
	JaegerImage        = "jaegertracing/jaeger:2.13.0"
	PrometheusImage    = "prom/prometheus:v3.5.0"
	GrafanaImage       = "grafana/grafana:12.2.0"
	ElasticsearchImage = "elasticsearch:8.19.7"
	KibanaImage        = "kibana:8.19.7"
)

// DoctorOptions say what Doctor may look at besides the local engine.
type DoctorOptions struct {
	// Registry asks the registry, through the engine, whether an absent
	// image could be pulled: a manifest lookup, nothing downloaded. Off,
	// absent images count as not pullable, which is the truth offline.
	Registry bool
	// Jaeger and Prometheus are the local binaries the fallbacks would
	// run ("" when there are none).
	Jaeger     string
	Prometheus string
}

// Availability of an infrastructure image.
type Availability string

// What Doctor found of an image.
const (
	Present       Availability = "present"       // on the engine already
	Pullable      Availability = "pullable"      // absent, the registry has it
	Absent        Availability = "absent"        // absent, the registry was not asked
	Unpullable    Availability = "unpullable"    // absent, the registry refused or did not answer
	InspectFailed Availability = "inspect error" // the engine failed to say
)

// Check is what the docker runtime will run for one infrastructure
// component, and why.
type Check struct {
	Component string
	Image     string
	Found     Availability
	Use       string // the image, the fallback, or "skipped"
	Why       string
}

// Report is Doctor's answer.
type Report struct {
	Engine string  // "Docker Engine 20.10.24 (API 1.41)", or why there is none
	Ready  bool    // an engine answers: the docker runtime can run
	Checks []Check // one per infrastructure image; none without an engine
}

// String lays the report out for a terminal, one line per component.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "docker: %s\n", r.Engine)
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "  %-13s %-30s %-11s -> %s (%s)\n", c.Component, c.Image, c.Found, c.Use, c.Why)
	}
	return b.String()
}

// Doctor says, for each infrastructure component, whether its image is on
// the engine (or, when asked, pullable) and what the docker runtime runs
// for it. This version runs none of the images: Kafka is the embedded
// broker in the testbed's own image, Jaeger and Prometheus run on the host
// from local binaries, and Grafana, Elasticsearch and Kibana are skipped;
// a present image is reported, not used. It never pulls.
func Doctor(ctx context.Context, opt DoctorOptions) Report {
	p, err := connect()
	if err != nil {
		return Report{Engine: fmt.Sprintf("unreachable (%v): only the local runtime can run", err)}
	}
	defer p.Close()
	v, err := p.Client().ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return Report{Engine: fmt.Sprintf("unreachable (%v): only the local runtime can run", err)}
	}
	rep := Report{Ready: true, Engine: fmt.Sprintf("Docker Engine %s (API %s)", v.Version, v.APIVersion)}
	for _, c := range []struct {
		component, image string
		use              func() (string, string)
	}{
		{"kafka", KafkaImage, func() (string, string) {
			return "embedded broker (kfake, 3 nodes) in the testbed image", "always available"
		}},
		{"jaeger", JaegerImage, func() (string, string) { return jaegerFallback(opt.Jaeger) }},
		{"prometheus", PrometheusImage, func() (string, string) { return prometheusFallback(opt.Prometheus) }},
		{"grafana", GrafanaImage, skipped},
		{"elasticsearch", ElasticsearchImage, skipped},
		{"kibana", KibanaImage, skipped},
	} {
		chk := Check{Component: c.component, Image: c.image}
		chk.Found, chk.Why = lookImage(ctx, p.Client(), c.image, opt.Registry)
		var why string
		chk.Use, why = c.use()
		if chk.Found == Present || chk.Found == Pullable {
			why += "; the runtime does not run this image yet"
		}
		chk.Why += "; " + why
		rep.Checks = append(rep.Checks, chk)
	}
	return rep
}

// lookImage finds an image on the engine and, when allowed, asks the
// registry about an absent one.
func lookImage(ctx context.Context, cli client.APIClient, image string, registry bool) (Availability, string) {
	_, err := cli.ImageInspect(ctx, image)
	switch {
	case err == nil:
		return Present, "on this engine"
	case !errdefs.IsNotFound(err):
		return InspectFailed, fmt.Sprintf("inspect: %v", err)
	case !registry:
		return Absent, "not on this engine; registry not asked"
	}
	if _, err := cli.DistributionInspect(ctx, image, client.DistributionInspectOptions{}); err != nil {
		return Unpullable, fmt.Sprintf("not on this engine, and the registry: %v", err)
	}
	return Pullable, "not on this engine; the registry has it"
}

func jaegerFallback(bin string) (string, string) {
	if bin == "" {
		return "skipped", "no local jaeger binary: `make tools` builds one"
	}
	// On the host, like Prometheus: containers send spans through a proxy
	// on their network's gateway.
	return bin + " on the host, OTLP from the containers through a proxy", "local binary"
}

func prometheusFallback(bin string) (string, string) {
	if bin == "" {
		return "skipped", "no local prometheus binary: `apt-get install prometheus`"
	}
	// The Debian build is dynamically linked, so it cannot go FROM scratch;
	// from the host it scrapes the components' published ports.
	return bin + " on the host, scraping published ports", "local binary"
}

func skipped() (string, string) { return "skipped", "the runtime has no local stand-in for it" }
