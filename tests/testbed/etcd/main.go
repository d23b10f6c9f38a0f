// Command etcd is the stock etcd server, built from the Go module proxy because
// etcd publishes no installable main package.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
