// kstatus reads Kubernetes objects as JSON, one per line on stdin, and prints for each what
// Flux and kpt make of it: kstatus's status (sigs.k8s.io/cli-utils/pkg/kstatus/status), a tab,
// and its message. The tests hold SpaceCast's status to it (tests/gitops/test_kstatus.py).
package main

import (
	"bufio"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	for in.Scan() {
		// Decoded as the apiserver's clients do: whole numbers stay int64 (kstatus insists).
		var obj unstructured.Unstructured
		if err := obj.UnmarshalJSON(in.Bytes()); err != nil {
			fmt.Fprintln(os.Stderr, "kstatus: not a Kubernetes object:", err)
			os.Exit(2)
		}
		res, err := status.Compute(&obj)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kstatus:", err)
			os.Exit(1)
		}
		fmt.Printf("%s\t%s\n", res.Status, res.Message)
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(2)
	}
}
