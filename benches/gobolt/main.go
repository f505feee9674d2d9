// gobolt: prints every key and value of every bucket of a bbolt file, read with etcd's own
// Go bbolt, in the line format of `reshift bbolt dump` — so the two can be diffed.
//   gobolt [-hash] DB
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strings"

	bolt "go.etcd.io/bbolt"
)

func walk(b *bolt.Bucket, path []string, hash bool, w *bufio.Writer) error {
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			return walk(b.Bucket(k), append(path, hex.EncodeToString(k)), hash, w)
		}
		if hash {
			s := sha256.Sum256(v)
			fmt.Fprintf(w, "{\"bucket\":\"%s\",\"key\":\"%x\",\"value_sha256\":\"%x\"}\n", strings.Join(path, "."), k, s)
		} else {
			fmt.Fprintf(w, "{\"bucket\":\"%s\",\"key\":\"%x\",\"value\":\"%x\"}\n", strings.Join(path, "."), k, v)
		}
		return nil
	})
}

func main() {
	hash := flag.Bool("hash", false, "print value sha256 instead of value")
	flag.Parse()
	db, err := bolt.Open(flag.Arg(0), 0400, &bolt.Options{ReadOnly: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<16)
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return walk(b, []string{hex.EncodeToString(name)}, *hash, w)
		})
	})
	w.Flush()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
