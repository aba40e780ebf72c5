// Command verify checks relic's signed checkpoints and Merkle proofs with
// Go's reference implementation (golang.org/x/mod/sumdb/note and
// golang.org/x/mod/sumdb/tlog). It is an interoperability test, not part of
// relic itself.
//
// Usage:
//
//	verify inclusion   VKEY_FILE PROOF_FILE RECORD_FILE
//	verify consistency VKEY_FILE OLD_CHECKPOINT_FILE NEW_CHECKPOINT_FILE PROOF_FILE
//
// VKEY_FILE holds one verifier key line, "<name>+<8 hex>+<base64>".
// PROOF_FILE for inclusion is a C2SP tlog-proof (c2sp.org/tlog-proof);
// for consistency it is zero or more base64 SHA-256 hashes, one per line.
//
// Build without a module proxy, using Debian's golang-golang-x-mod-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o verify verify.go
package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const proofHeader = "c2sp.org/tlog-proof@v1"

// checkpoint is the parsed body of a C2SP tlog-checkpoint note.
type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

func main() {
	var err error
	switch {
	case len(os.Args) == 5 && os.Args[1] == "inclusion":
		err = inclusion(os.Args[2], os.Args[3], os.Args[4])
	case len(os.Args) == 6 && os.Args[1] == "consistency":
		err = consistency(os.Args[2], os.Args[3], os.Args[4], os.Args[5])
	default:
		err = errors.New("usage: verify inclusion VKEY PROOF RECORD | verify consistency VKEY OLD_CP NEW_CP PROOF")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
		os.Exit(1)
	}
}

// inclusion checks a tlog-proof (index, audit path, checkpoint) for a record.
func inclusion(vkeyFile, proofFile, recordFile string) error {
	v, err := loadVerifier(vkeyFile)
	if err != nil {
		return err
	}
	proofBytes, err := os.ReadFile(proofFile)
	if err != nil {
		return err
	}
	record, err := os.ReadFile(recordFile)
	if err != nil {
		return err
	}

	// The proof section ends at the first empty line; the signed checkpoint
	// follows verbatim (its own blank line comes later, before signatures).
	head, cpBytes, ok := strings.Cut(string(proofBytes), "\n\n")
	if !ok {
		return errors.New("tlog-proof: missing empty line before checkpoint")
	}
	lines := strings.Split(head, "\n")
	if lines[0] != proofHeader {
		return fmt.Errorf("tlog-proof: first line is %q, want %q", lines[0], proofHeader)
	}
	lines = lines[1:]
	// Optional "extra <b64>" line: opaque to us, but must be valid base64.
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		if _, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[0], "extra ")); err != nil {
			return fmt.Errorf("tlog-proof: bad extra line: %v", err)
		}
		lines = lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return errors.New("tlog-proof: missing index line")
	}
	index, err := parseDecimal(strings.TrimPrefix(lines[0], "index "))
	if err != nil {
		return fmt.Errorf("tlog-proof: bad index: %v", err)
	}
	// Remaining lines are the inclusion path, leaf sibling first. That is
	// exactly the order of tlog.RecordProof (its last hash is the sibling of
	// the root's child), so it can be passed through unchanged.
	path, err := parseHashes(lines[1:])
	if err != nil {
		return fmt.Errorf("tlog-proof: %v", err)
	}

	cp, err := openCheckpoint([]byte(cpBytes), v)
	if err != nil {
		return err
	}
	// Leaf hash is SHA-256(0x00 || record), RFC 6962.
	if err := tlog.CheckRecord(tlog.RecordProof(path), cp.size, cp.root, index, tlog.RecordHash(record)); err != nil {
		return fmt.Errorf("inclusion index=%d size=%d: %v", index, cp.size, err)
	}
	fmt.Printf("ok inclusion index=%d size=%d\n", index, cp.size)
	return nil
}

// consistency checks that the new checkpoint's tree extends the old one's.
func consistency(vkeyFile, oldFile, newFile, proofFile string) error {
	v, err := loadVerifier(vkeyFile)
	if err != nil {
		return err
	}
	oldCP, err := readCheckpoint(oldFile, v)
	if err != nil {
		return fmt.Errorf("old checkpoint: %v", err)
	}
	newCP, err := readCheckpoint(newFile, v)
	if err != nil {
		return fmt.Errorf("new checkpoint: %v", err)
	}
	proofBytes, err := os.ReadFile(proofFile)
	if err != nil {
		return err
	}
	// Zero hashes (empty file) is valid, e.g. when old == new.
	text := strings.TrimSuffix(string(proofBytes), "\n")
	var lines []string
	if text != "" {
		lines = strings.Split(text, "\n")
	}
	proof, err := parseHashes(lines)
	if err != nil {
		return fmt.Errorf("consistency proof: %v", err)
	}
	// Note: tlog.CheckTree requires 1 <= old size <= new size; it has no
	// notion of consistency with the empty tree.
	if err := tlog.CheckTree(tlog.TreeProof(proof), newCP.size, newCP.root, oldCP.size, oldCP.root); err != nil {
		return fmt.Errorf("consistency old=%d new=%d: %v", oldCP.size, newCP.size, err)
	}
	fmt.Printf("ok consistency old=%d new=%d\n", oldCP.size, newCP.size)
	return nil
}

// loadVerifier reads a single verifier key line and builds an Ed25519 verifier.
func loadVerifier(file string) (note.Verifier, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("verifier key: %v", err)
	}
	return v, nil
}

func readCheckpoint(file string, v note.Verifier) (checkpoint, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return checkpoint{}, err
	}
	return openCheckpoint(b, v)
}

// openCheckpoint verifies the note signature with v and parses the body:
//
//	<origin>
//	<tree size, decimal>
//	<root hash, base64>
//	[extension lines, ignored]
func openCheckpoint(msg []byte, v note.Verifier) (checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return checkpoint{}, fmt.Errorf("note: %v", err) // includes "unverified" / bad signature
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		return checkpoint{}, fmt.Errorf("checkpoint: %d body lines, want at least 3", len(lines))
	}
	cp := checkpoint{origin: lines[0]}
	if cp.origin != v.Name() {
		return checkpoint{}, fmt.Errorf("checkpoint: origin %q does not match key name %q", cp.origin, v.Name())
	}
	if cp.size, err = parseDecimal(lines[1]); err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint: bad size: %v", err)
	}
	if cp.root, err = tlog.ParseHash(lines[2]); err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint: bad root hash: %v", err)
	}
	return cp, nil
}

// parseDecimal accepts only canonical non-negative decimals (no sign, no leading zeros).
func parseDecimal(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, fmt.Errorf("not a canonical decimal: %q", s)
	}
	return n, nil
}

// parseHashes decodes one base64 SHA-256 hash per line.
func parseHashes(lines []string) ([]tlog.Hash, error) {
	hashes := make([]tlog.Hash, 0, len(lines))
	for i, l := range lines {
		h, err := tlog.ParseHash(l)
		if err != nil {
			return nil, fmt.Errorf("hash line %d %q: %v", i+1, l, err)
		}
		hashes = append(hashes, h)
	}
	return hashes, nil
}
