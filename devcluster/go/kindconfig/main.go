// Command kindconfig decodes a kind cluster config strictly into kind's own v1alpha4 types
// (an unknown or misspelt field is an error, as kind itself reports it), then applies kind's
// defaults and prints the nodes it would create. Usage: kindconfig FILE.
package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kindconfig FILE")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var cfg v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	if cfg.Kind != "Cluster" || cfg.APIVersion != "kind.x-k8s.io/v1alpha4" {
		fmt.Fprintf(os.Stderr, "%s: want kind: Cluster, apiVersion: kind.x-k8s.io/v1alpha4\n", os.Args[1])
		os.Exit(1)
	}
	v1alpha4.SetDefaultsCluster(&cfg)
	for _, node := range cfg.Nodes {
		fmt.Printf("%s %d port mappings\n", node.Role, len(node.ExtraPortMappings))
	}
}
