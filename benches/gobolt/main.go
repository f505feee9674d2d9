// gobolt: prints every key and value of every bucket of a bbolt file, read with etcd's own
// Go bbolt, in the line format of `reshift bbolt dump` — so the two can be diffed.
//   gobolt [-hash] DB
//   gobolt -make OUT -pagesize N    writes a small db with nested, inline and overflowing
//                                   entries (seeds for fuzzing and page-size tests)
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

func makeDB(out string, pageSize int) {
	db, err := bolt.Open(out, 0600, &bolt.Options{PageSize: pageSize})
	if err != nil {
		panic(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		big, _ := tx.CreateBucket([]byte("big"))
		for i := 0; i < 300; i++ {
			big.Put([]byte(fmt.Sprintf("key-%05d", i)), []byte(strings.Repeat(fmt.Sprintf("v%d;", i), i%7+1)))
		}
		big.Put([]byte("overflow"), []byte(strings.Repeat("x", 3*pageSize+17)))
		outer, _ := big.CreateBucket([]byte("nested"))
		outer.Put([]byte("a"), []byte("1"))
		inner, _ := outer.CreateBucket([]byte("inline-child"))
		inner.Put([]byte("deep"), []byte("value"))
		small, _ := tx.CreateBucket([]byte("small"))
		small.Put([]byte("only"), []byte("inline"))
		tx.CreateBucket([]byte("empty"))
		return nil
	})
	if err != nil {
		panic(err)
	}
	// A second transaction frees pages, so the freelist has entries.
	db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("big"))
		for i := 0; i < 300; i += 3 {
			b.Delete([]byte(fmt.Sprintf("key-%05d", i)))
		}
		return nil
	})
	db.Close()
}

func main() {
	hash := flag.Bool("hash", false, "print value sha256 instead of value")
	mk := flag.String("make", "", "write a small test db here")
	ps := flag.Int("pagesize", 4096, "page size for -make")
	flag.Parse()
	if *mk != "" {
		makeDB(*mk, *ps)
		return
	}
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
