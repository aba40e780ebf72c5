// Command tiles reads relic's log over HTTP as a C2SP tlog-tiles log with Go's
// reference tile reader (golang.org/x/mod/sumdb/tlog.TileHashReader), which
// authenticates every tile it reads against the signed checkpoint. It is an
// interoperability test, not part of relic itself.
//
// Usage:
//
//	tiles BASE_URL VKEY_FILE TOKEN OLD_CHECKPOINT_FILE
//
// It fetches BASE_URL/tlog/checkpoint and verifies it with the key in
// VKEY_FILE; proves and checks the inclusion of every record (each record's
// bytes from the entry bundles, authenticated by the level-0 tiles) and the
// consistency of OLD_CHECKPOINT_FILE's tree with the served one; and checks
// the content types. TOKEN is sent as PRIVATE-TOKEN for the entry bundles.
// Prints "ok tiles size=N old=M" on success.
//
// Build without a module proxy, using Debian's golang-golang-x-mod-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o tiles tiles.go
package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: tiles BASE_URL VKEY_FILE TOKEN OLD_CHECKPOINT_FILE")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3], os.Args[4]); err != nil {
		fmt.Fprintln(os.Stderr, "tiles:", err)
		os.Exit(1)
	}
}

// get fetches url and checks its status and content type.
func get(url, token, contentType string) ([]byte, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("PRIVATE-TOKEN", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	if got := resp.Header.Get("Content-Type"); got != contentType {
		return nil, fmt.Errorf("GET %s: Content-Type %q, want %q", url, got, contentType)
	}
	return body, nil
}

// tileReader serves tlog.TileHashReader from relic's /tlog/tile/ paths. Go
// names tiles tile/H/L/N; C2SP's paths leave out the height, which is 8.
type tileReader struct{ base string }

func (r tileReader) Height() int { return 8 }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		p := strings.TrimPrefix(t.Path(), "tile/8/")
		b, err := get(r.base+"/tlog/tile/"+p, "", "application/octet-stream")
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// openCheckpoint verifies a checkpoint note and returns its origin and tree.
func openCheckpoint(msg []byte, v note.Verifier) (string, tlog.Tree, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return "", tlog.Tree{}, err
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		return "", tlog.Tree{}, errors.New("checkpoint: too few lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return "", tlog.Tree{}, err
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return "", tlog.Tree{}, errors.New("checkpoint: bad root hash")
	}
	var h tlog.Hash
	copy(h[:], root)
	return lines[0], tlog.Tree{N: size, Hash: h}, nil
}

// entries fetches every entry bundle of a tree of size n and returns the entries.
func entries(base, token string, n int64) ([][]byte, error) {
	var all [][]byte
	for start := int64(0); start < n; start += 256 {
		w := n - start
		path := tlog.Tile{H: 8, L: 0, N: start / 256, W: 256}.Path()
		if w < 256 {
			path = tlog.Tile{H: 8, L: 0, N: start / 256, W: int(w)}.Path()
		}
		path = strings.TrimPrefix(path, "tile/8/0/")
		b, err := get(base+"/tlog/tile/entries/"+path, token, "application/octet-stream")
		if err != nil {
			return nil, err
		}
		for len(b) > 0 {
			if len(b) < 2 {
				return nil, errors.New("entry bundle: truncated length")
			}
			l := int(b[0])<<8 | int(b[1])
			if len(b) < 2+l {
				return nil, errors.New("entry bundle: truncated entry")
			}
			all = append(all, b[2:2+l])
			b = b[2+l:]
		}
	}
	if int64(len(all)) != n {
		return nil, fmt.Errorf("entry bundles hold %d entries, want %d", len(all), n)
	}
	return all, nil
}

func run(base, vkeyFile, token, oldFile string) error {
	vkey, err := os.ReadFile(vkeyFile)
	if err != nil {
		return err
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		return err
	}
	cp, err := get(base+"/tlog/checkpoint", "", "text/plain; charset=utf-8")
	if err != nil {
		return err
	}
	origin, tree, err := openCheckpoint(cp, v)
	if err != nil {
		return fmt.Errorf("served checkpoint: %v", err)
	}
	oldMsg, err := os.ReadFile(oldFile)
	if err != nil {
		return err
	}
	oldOrigin, old, err := openCheckpoint(oldMsg, v)
	if err != nil {
		return fmt.Errorf("old checkpoint: %v", err)
	}
	if oldOrigin != origin {
		return fmt.Errorf("origins differ: %q and %q", oldOrigin, origin)
	}

	// The records themselves are not public: without a token, no entry bundle.
	if _, err := get(base+"/tlog/tile/entries/000.p/1", "", "application/octet-stream"); err == nil || !strings.Contains(err.Error(), "401") {
		return fmt.Errorf("an entry bundle without a token: %v, want 401", err)
	}

	// Every tile read through this reader is authenticated against tree.Hash.
	thr := tlog.TileHashReader(tree, tileReader{base})
	recs, err := entries(base, token, tree.N)
	if err != nil {
		return err
	}
	for i, rec := range recs {
		proof, err := tlog.ProveRecord(tree.N, int64(i), thr)
		if err != nil {
			return fmt.Errorf("prove record %d: %v", i, err)
		}
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, int64(i), tlog.RecordHash(rec)); err != nil {
			return fmt.Errorf("record %d from the entry bundle: %v", i, err)
		}
	}
	proof, err := tlog.ProveTree(tree.N, old.N, thr)
	if err != nil {
		return fmt.Errorf("prove tree %d -> %d: %v", old.N, tree.N, err)
	}
	if err := tlog.CheckTree(proof, tree.N, tree.Hash, old.N, old.Hash); err != nil {
		return fmt.Errorf("consistency %d -> %d: %v", old.N, tree.N, err)
	}
	fmt.Printf("ok tiles size=%d old=%d\n", tree.N, old.N)
	return nil
}
